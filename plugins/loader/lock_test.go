package loader

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockRoundTrip(t *testing.T) {
	path, sum := tinyPlugin(t)
	lockPath := filepath.Join(t.TempDir(), LockFileName)
	lock, err := LockSources(lockPath, []*Source{
		{Path: path, Plugin: "tiny"},
		{Path: path, Plugin: "tiny"}, // the same binary once
		{Builtin: true, Path: "/usr/bin/prox", Plugin: "builtin"},
	})
	require.NoError(t, err)
	require.NoError(t, lock.Write())
	read, err := ReadLock(lockPath)
	require.NoError(t, err)
	require.Len(t, read.Plugins, 1)
	assert.Equal(t, LockedPlugin{Name: "tiny", Path: path, SHA256: sum}, read.Plugins[0])
	got, ok := read.Lookup(path)
	assert.True(t, ok)
	assert.Equal(t, sum, got)

	missing, err := ReadLock(filepath.Join(t.TempDir(), "nope.json"))
	assert.NoError(t, err)
	assert.Nil(t, missing)

	bad := filepath.Join(t.TempDir(), LockFileName)
	require.NoError(t, os.WriteFile(bad, []byte(`{"version": 9, "plugins": []}`), 0o644))
	_, err = ReadLock(bad)
	assert.ErrorContains(t, err, "format version 9")
}

func TestLockRefusesAChangedBinaryBeforeRunningIt(t *testing.T) {
	t.Parallel()
	path, sum := tinyPlugin(t)
	// A copy of the binary, locked, then changed.
	dir := t.TempDir()
	changed := filepath.Join(dir, "prox-plugin-tiny")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(changed, b, 0o755))
	lock := &Lock{Path: filepath.Join(dir, LockFileName), Plugins: []LockedPlugin{{Name: "tiny", Path: changed, SHA256: sum}}}
	require.NoError(t, os.WriteFile(changed, append(b, 0), 0o755))

	marker := filepath.Join(t.TempDir(), "marker")
	opts := tinyOptions(marker)
	opts.External = []External{{Name: "tiny", Path: changed}}
	opts.Lock = lock
	err = launchErr(t, newLoader(t, opts), sdk.KindRunner, "tiny")
	require.ErrorIs(t, err, ErrChecksum)
	assert.Contains(t, err.Error(), changed)
	assert.Contains(t, err.Error(), "expected sha256 "+sum)
	assert.Contains(t, err.Error(), "actual ")
	assert.Contains(t, err.Error(), "(the lock file "+lock.Path+")", "where the expected checksum comes from")
	assert.Contains(t, err.Error(), "run `prox plugins lock` to record its checksum", "what to do")
	assert.NoFileExists(t, marker, "a changed binary is never run, not even for describe")

	// A binary missing from the lock is refused too, with the advice.
	opts.Lock = &Lock{Path: lock.Path}
	err = launchErr(t, newLoader(t, opts), sdk.KindRunner, "tiny")
	require.ErrorIs(t, err, ErrChecksum)
	assert.Contains(t, err.Error(), "prox plugins lock")

	// The locked hash of the unchanged binary is accepted.
	opts.External = []External{{Name: "tiny", Path: path}}
	opts.Lock = &Lock{Path: lock.Path, Plugins: []LockedPlugin{{Name: "tiny", Path: path, SHA256: strings.ToUpper(sum)}}}
	l := newLoader(t, opts)
	_, err = l.Launch(t.Context(), sdk.KindRunner, "tiny")
	require.NoError(t, err)
}

func TestOverrideOfABuiltin(t *testing.T) {
	t.Parallel()
	path, _ := tinyPlugin(t)
	builtinTiny := func(kind sdk.Kind, name string) bool { return kind == sdk.KindRunner && name == "tiny" }
	for _, override := range []bool{false, true} {
		opts := tinyOptions(filepath.Join(t.TempDir(), "marker"))
		opts.Builtin = builtinTiny
		opts.Self = "/bin/true"
		opts.External = []External{{Name: "tiny", Path: path, Override: override}}
		src, err := newLoader(t, opts).Resolve(sdk.KindRunner, "tiny")
		require.NoError(t, err)
		assert.Equal(t, !override, src.Builtin, "override=%v", override)
		if override {
			assert.Equal(t, path, src.Path)
		}
	}
}

func TestSinkTargetRelaunchesOnReopen(t *testing.T) {
	t.Parallel()
	path, _ := tinyPlugin(t)
	opts := tinyOptions(filepath.Join(t.TempDir(), "marker"))
	opts.External = []External{{Name: "tiny", Path: path}}
	l := newLoader(t, opts)
	ctx := t.Context()
	inst, err := l.Launch(ctx, sdk.KindSink, "mem")
	require.NoError(t, err)
	require.NoError(t, inst.Configure(ctx, nil))
	target := NewSinkTarget(l, inst)

	first, err := target.Open(ctx)
	require.NoError(t, err)
	assert.Same(t, inst, target.Instance(), "the first open uses the launched plugin")
	require.NoError(t, first.Close(ctx)) // the manager closes a sink that failed

	second, err := target.Open(ctx)
	require.NoError(t, err)
	assert.NotSame(t, inst, target.Instance(), "a reopen relaunches the plugin")
	assert.True(t, inst.Exited(), "the old plugin is shut down")
	require.NoError(t, second.Write(ctx, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{{Process: "p", Stream: sdk.Stdout, Line: []byte("x")}}}))
}
