package syslog

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/testservers"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 15 * time.Second
	tick    = 20 * time.Millisecond
)

// The private rsyslogd lives in internal/testservers; these names keep
// the tests short.
type (
	record   = testservers.Record
	tlsFiles = testservers.TLSFiles
)

var (
	startRsyslogd = testservers.StartRsyslogd
	newTLSFiles   = testservers.NewTLSFiles
	freePort      = testservers.FreePort
)

// configValues builds the JSON values the host sends: every attribute of
// the schema present, null unless set, a duration (written as in HCL) in
// nanoseconds. A missing required attribute goes through too.
func configValues(t *testing.T, set map[string]any) *sdk.Config {
	t.Helper()
	values := map[string]any{}
	types := map[string]string{}
	for _, a := range schema.Attributes {
		values[a.Name] = nil
		types[a.Name] = a.Type
	}
	for k, v := range set {
		_, ok := values[k]
		require.True(t, ok, "attribute %q is not in the schema", k)
		if s, isString := v.(string); isString && types[k] == sdk.TypeDuration {
			d, err := time.ParseDuration(s)
			require.NoError(t, err, "the host refuses %s = %q", k, s)
			v = int64(d)
		}
		values[k] = v
	}
	b, err := json.Marshal(values)
	require.NoError(t, err)
	return &sdk.Config{APIVersion: 1, Values: b}
}

// newSink configures a sink with set and closes it in t.Cleanup.
func newSink(t *testing.T, set map[string]any) *Sink {
	t.Helper()
	s := testSink(t)
	require.NoError(t, s.Configure(configValues(t, set)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// testSink returns a new sink that logs through the test.
func testSink(t *testing.T) *Sink {
	s := New()
	s.log = hclog.New(&hclog.LoggerOptions{Name: Name, Output: testWriter{t}, Level: hclog.Debug})
	return s
}

// testWriter writes log lines with t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lines makes a batch of stdout lines prefix-N for N in [from, to).
func lines(process, prefix string, from, to int) *sdk.Batch {
	b := &sdk.Batch{}
	now := time.Now()
	for i := from; i < to; i++ {
		b.Entries = append(b.Entries, sdk.LogEntry{
			Timestamp: now, Process: process, Stream: sdk.Stdout,
			Line: fmt.Appendf(nil, "%s-%05d", prefix, i),
		})
	}
	return b
}

// within runs f and returns its error, failing the test if f has not
// returned after waitFor: a hang is a failure, not a test timeout.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatalf("call did not return within %s", waitFor)
		return nil
	}
}

// hostname is the HOSTNAME the sink sends by default.
func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	require.NoError(t, err)
	return headerField(h, maxHostname, false)
}

// msgs returns the msg field of each record.
func msgs(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Msg
	}
	return out
}

// lineTexts returns the lines of b as strings.
func lineTexts(b *sdk.Batch) []string {
	out := make([]string, len(b.Entries))
	for i, e := range b.Entries {
		out[i] = string(e.Line)
	}
	return out
}
