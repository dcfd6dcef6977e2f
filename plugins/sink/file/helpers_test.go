package file

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// hostConfig builds the values the host delivers: every attribute of the
// schema, null unless set in values, a duration (written as in HCL) in
// nanoseconds. Other values go as they are, mistyped ones too.
func hostConfig(t testing.TB, values map[string]any) *sdk.Config {
	t.Helper()
	all := map[string]any{}
	types := map[string]string{}
	for _, a := range schema.Attributes {
		all[a.Name] = nil
		types[a.Name] = a.Type
	}
	for k, v := range values {
		_, known := all[k]
		require.True(t, known, "attribute %q is not in the schema", k)
		if s, ok := v.(string); ok && types[k] == sdk.TypeDuration {
			d, err := time.ParseDuration(s)
			require.NoError(t, err, "the host refuses %s = %q", k, s)
			v = int64(d)
		}
		all[k] = v
	}
	b, err := json.Marshal(all)
	require.NoError(t, err)
	return &sdk.Config{APIVersion: 1, Values: b}
}

// newSink returns a configured sink that logs into the test's output and
// is closed when the test ends.
func newSink(t testing.TB, values map[string]any) *Sink {
	t.Helper()
	s := New()
	s.logger = hclog.New(&hclog.LoggerOptions{Name: "sink.file", Output: t.Output()})
	require.NoError(t, s.Configure(hostConfig(t, values)))
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// base is the time of the first line of every test batch.
var base = time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)

// entry is a log line of process on stdout, i milliseconds after base.
func entry(process string, i int, line string) sdk.LogEntry {
	return sdk.LogEntry{Timestamp: base.Add(time.Duration(i) * time.Millisecond), Process: process, Stream: sdk.Stdout, Line: []byte(line)}
}

func write(t testing.TB, s *Sink, b *sdk.Batch) {
	t.Helper()
	require.NoError(t, s.Write(context.Background(), b))
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// lines splits a file's content into lines, requiring that it ends with a
// newline (no line is cut).
func lines(t testing.TB, content string) []string {
	t.Helper()
	if content == "" {
		return nil
	}
	require.True(t, bytes.HasSuffix([]byte(content), []byte("\n")), "file does not end with a newline: %q", content)
	return bytes2strings(bytes.Split([]byte(content[:len(content)-1]), []byte("\n")))
}

func bytes2strings(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// inDir returns path name in a new temporary directory.
func inDir(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(t.TempDir(), name)
}
