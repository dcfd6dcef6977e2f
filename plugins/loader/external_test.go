package loader

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tinyOptions are Options for the tiny plugin: it appends to marker
// whenever it runs.
func tinyOptions(marker string) Options {
	return Options{Env: []string{"PATH=" + os.Getenv("PATH"), markerEnv + "=" + marker}}
}

// runTiny runs `sh -c script` through a tiny runner and returns its stdout.
func runTiny(t *testing.T, inst *Instance, script string) string {
	t.Helper()
	p, err := inst.Runner.Start(context.Background(), &sdk.ProcessConfig{
		Name: "tiny", Command: []string{"sh", "-c", script}, Env: testEnv(),
	})
	require.NoError(t, err)
	stdout, stderr := collect(p.Stdout()), collect(p.Stderr())
	require.NoError(t, waitResult(t, waitAsync(p)))
	out, err := stdout.result(t)
	require.NoError(t, err)
	_, err = stderr.result(t)
	require.NoError(t, err)
	return out
}

func TestExternalPluginBlock(t *testing.T) {
	t.Parallel()
	path, sum := tinyPlugin(t)
	for name, configured := range map[string]string{"lower": sum, "upper": strings.ToUpper(sum), "none": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "marker")
			opts := tinyOptions(marker)
			opts.External = []External{{Name: "tiny", Path: path, SHA256: configured}}
			l := newLoader(t, opts)
			ctx := context.Background()

			inst, err := l.Launch(ctx, sdk.KindRunner, "tiny")
			require.NoError(t, err)
			assert.False(t, inst.Source.Builtin)
			assert.Equal(t, "tiny", inst.Source.Plugin)
			assert.Equal(t, path, inst.Source.Path)
			assert.Equal(t, &sdk.Info{Plugin: "tiny", Name: "tiny", Kind: sdk.KindRunner, Version: "0.0.1", APIVersions: sdk.APIVersions, Command: sdk.CommandRequired}, inst.Info)
			assert.Equal(t, 1, inst.APIVersion)
			require.NotNil(t, inst.ConfigSchema)
			assert.Equal(t, "greeting", inst.ConfigSchema.Attributes[0].Name)
			assert.Nil(t, inst.ProcessSchema)
			require.NoError(t, inst.Configure(ctx, []byte(`{"greeting":"hello"}`)))
			assert.Equal(t, "tiny says hi\n", runTiny(t, inst, "echo tiny says hi"))

			// `describe` ran with Options.Env too, then the plugin itself.
			b, err := os.ReadFile(marker)
			require.NoError(t, err)
			assert.Equal(t, "ran describe\nran \n", string(b))

			pid := inst.PID()
			require.NoError(t, l.Close(ctx))
			requireGone(t, pid, "tiny plugin")
		})
	}
}

func TestExternalPluginWrongChecksumIsNotExecuted(t *testing.T) {
	t.Parallel()
	path, sum := tinyPlugin(t)
	wrong := strings.Repeat("ab", 32)
	marker := filepath.Join(t.TempDir(), "marker")
	opts := tinyOptions(marker)
	opts.External = []External{{Name: "tiny", Path: path, SHA256: wrong}}
	l := newLoader(t, opts)

	check := func(err error) {
		t.Helper()
		t.Log(err)
		require.ErrorIs(t, err, ErrChecksum)
		assert.Contains(t, err.Error(), path)
		assert.Contains(t, err.Error(), "expected sha256 "+wrong)
		assert.Contains(t, err.Error(), "actual "+sum)
		assert.NoFileExists(t, marker, "the plugin was executed")
	}
	// Through Resolve (which would run `describe`) and directly.
	check(launchErr(t, l, sdk.KindRunner, "tiny"))
	_, err := l.LaunchSource(context.Background(), &Source{Path: path, SHA256: wrong, Plugin: "tiny"}, sdk.KindRunner, "tiny")
	check(err)
}

func TestExternalPluginMissingBinary(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "prox-plugin-gone")
	l := newLoader(t, Options{External: []External{{Name: "gone", Path: missing}}})
	err := launchErr(t, l, sdk.KindRunner, "gone")
	t.Log(err)
	assert.Contains(t, err.Error(), missing)
	assert.Contains(t, err.Error(), `plugin "gone"`)
}

func TestPluginDirs(t *testing.T) {
	t.Parallel()
	path, _ := tinyPlugin(t)
	marker := filepath.Join(t.TempDir(), "marker")
	opts := tinyOptions(marker)
	// A missing directory and one without plugins are skipped; so is a
	// prox-plugin-* file that is not executable.
	empty := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(empty, PluginFilePrefix+"notexec"), []byte("#!/bin/sh\n"), 0o644))
	opts.PluginDirs = []string{filepath.Join(empty, "missing"), empty, filepath.Dir(path)}
	l := newLoader(t, opts)
	ctx := context.Background()

	inst, err := l.Launch(ctx, sdk.KindRunner, "tiny")
	require.NoError(t, err)
	assert.Equal(t, "tiny", inst.Source.Plugin)
	assert.Equal(t, path, inst.Source.Path)
	assert.Empty(t, inst.Source.SHA256)
	assert.Equal(t, "from the plugin dir\n", runTiny(t, inst, "echo from the plugin dir"))

	// The same binary serves the sink; it was described once.
	sink, err := l.Launch(ctx, sdk.KindSink, "mem")
	require.NoError(t, err)
	assert.NotEqual(t, inst.PID(), sink.PID())
	b, err := os.ReadFile(marker)
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(b), "ran describe\n"), string(b))
	assert.Equal(t, 2, strings.Count(string(b), "ran \n"), string(b))
}

func TestExternalSink(t *testing.T) {
	t.Parallel()
	path, sum := tinyPlugin(t)
	opts := tinyOptions(filepath.Join(t.TempDir(), "marker"))
	opts.External = []External{{Name: "tiny", Path: path, SHA256: sum}}
	l := newLoader(t, opts)
	ctx := context.Background()

	inst, err := l.Launch(ctx, sdk.KindSink, "mem")
	require.NoError(t, err)
	assert.Equal(t, "sink.mem", inst.ID())
	assert.Equal(t, sdk.KindSink, inst.Info.Kind)
	assert.Equal(t, "mem", inst.Info.Name)
	require.NotNil(t, inst.Sink)
	assert.Nil(t, inst.Runner)
	require.NotNil(t, inst.ConfigSchema)

	// The sink's block, decoded against the schema it declared.
	out := filepath.Join(t.TempDir(), "sink.out")
	f, diags := hclsyntax.ParseConfig([]byte(`path = "`+out+`"`+"\n"), "prox.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors(), diags.Error())
	values, diags := Decode(f.Body, inst.ConfigSchema, nil, missingRange, `sink "mem" block`)
	require.False(t, diags.HasErrors(), diags.Error())
	require.NoError(t, inst.Configure(ctx, values))

	now := time.Now()
	require.NoError(t, inst.Sink.Write(ctx, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{
		{Timestamp: now, Process: "web", Stream: sdk.Stdout, Line: []byte("listening")},
		{Timestamp: now, Process: "web", Stream: sdk.Stderr, Line: []byte("warning")},
	}}))
	require.NoError(t, inst.Sink.Write(ctx, &sdk.Batch{Seq: 2, Events: []sdk.Event{{Timestamp: now, Process: "web", Type: "started"}}}))
	require.NoError(t, inst.Sink.Flush(ctx))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, "web stdout listening\nweb stderr warning\n", string(b))
	require.NoError(t, inst.Sink.Close(ctx))
	require.NoError(t, inst.Close(ctx))
	requireGone(t, inst.PID(), "sink plugin")
}

func TestUnknownComponent(t *testing.T) {
	t.Parallel()
	path, sum := tinyPlugin(t)
	opts := tinyOptions(filepath.Join(t.TempDir(), "marker"))
	opts.External = []External{{Name: "tiny", Path: path, SHA256: sum}}
	l := newLoader(t, opts)

	err := launchErr(t, l, sdk.KindRunner, "vm")
	t.Log(err)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), `runner "vm"`)
	assert.Contains(t, err.Error(), "tiny (runner.tiny, sink.mem)")
	// A sink named like the runner is still not found.
	err = launchErr(t, l, sdk.KindSink, "tiny")
	require.ErrorIs(t, err, ErrNotFound)

	// Without any plugin, the message says where it looked.
	dir := t.TempDir()
	l = newLoader(t, Options{PluginDirs: []string{dir}})
	err = launchErr(t, l, sdk.KindRunner, "vm")
	t.Log(err)
	require.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), "not built in")
	assert.Contains(t, err.Error(), PluginFilePrefix+"* files in "+dir)
}
