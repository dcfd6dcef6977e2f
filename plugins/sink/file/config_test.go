package file

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{
		"0":        0,
		"4096":     4096,
		"100B":     100,
		"500KB":    500_000,
		"500kb":    500_000,
		"2KiB":     2048,
		"10MiB":    10 << 20,
		"10 MiB":   10 << 20,
		"100MB":    100_000_000,
		"1GB":      1_000_000_000,
		"1GiB":     1 << 30,
		"1.5MiB":   3 << 19,
		"2T":       2 << 40,
		" 64k ":    64 << 10,
		"1TiB":     1 << 40,
		"0.5KB":    500,
		"100MiB":   DefaultMaxSize,
		"12345678": 12345678,
	}
	for in, want := range good {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "MiB", "10XB", "ten", "-5MB", "1.2.3KB", "10 MiB extra", "1e3", "99999999999TB"} {
		_, err := parseSize(bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parseConfig(hostConfig(t, map[string]any{"path": filepath.Join(dir, "all.log")}))
	require.NoError(t, err)
	assert.Equal(t, &config{
		path: filepath.Join(dir, "all.log"), maxSize: DefaultMaxSize, maxBackups: DefaultMaxBackups,
		processPrefix: true, events: true,
	}, cfg)

	cfg, err = parseConfig(hostConfig(t, map[string]any{
		"path": filepath.Join(dir, "{process}.log"), "max_size": "1MB", "max_backups": 7, "max_age": "168h",
		"timestamp": true, "stream_prefix": true, "events": false,
	}))
	require.NoError(t, err)
	assert.Equal(t, &config{
		path: filepath.Join(dir, "{process}.log"), perProcess: true, maxSize: 1_000_000, maxBackups: 7,
		maxAge: 168 * time.Hour, timestamp: true, streamPrefix: true,
	}, cfg)
}

func TestRelativePathIsMadeAbsolute(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := parseConfig(hostConfig(t, map[string]any{"path": "logs/all.log"}))
	require.NoError(t, err)
	wd, err := filepath.Abs(".")
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(wd, "logs", "all.log"), cfg.path)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "all.log")
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"missing path", map[string]any{}, "path: is required"},
		{"empty path", map[string]any{"path": " "}, "path: is required"},
		{"bad size unit", map[string]any{"path": p, "max_size": "10XB"}, `max_size: invalid size "10XB": unknown unit "XB"`},
		{"size without number", map[string]any{"path": p, "max_size": "big"}, `max_size: invalid size "big"`},
		{"negative size", map[string]any{"path": p, "max_size": "-1MB"}, `max_size: invalid size "-1MB"`},
		{"negative backups", map[string]any{"path": p, "max_backups": -1}, "max_backups: must be a whole number"},
		{"negative age", map[string]any{"path": p, "max_age": "-1h"}, "max_age: must not be negative"},
		{"wrong type", map[string]any{"path": p, "timestamp": "yes"}, "failed to decode config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(hostConfig(t, tt.values))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			if tt.name == "wrong type" {
				return
			}
			attr, _, _ := strings.Cut(tt.want, ":")
			assert.Equal(t, []string{attr}, sdktest.AttributeNames(err), "one problem, named by its attribute")
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	err := New().Configure(hostConfig(t, map[string]any{"max_size": "big", "max_backups": -1, "max_age": "-1h"}))
	assert.Equal(t, []string{"path", "max_size", "max_backups", "max_age"}, sdktest.AttributeNames(err))
}

func TestConfigPathThatCannotBeCreated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	for _, path := range []string{filepath.Join(file, "sub", "{process}.log"), filepath.Join(file, "all.log")} {
		err := New().Configure(hostConfig(t, map[string]any{"path": path}))
		attrs := sdk.AttributeErrors(err)
		require.Len(t, attrs, 1, "%s: %v", path, err)
		assert.Equal(t, "path", attrs[0].Attribute)
		assert.ErrorIs(t, err, syscall.ENOTDIR)
	}
}
