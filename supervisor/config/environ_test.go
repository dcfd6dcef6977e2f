package config

import (
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnviron(t *testing.T) {
	dir := t.TempDir()
	envFile := filepath.Join(dir, ".env")
	require.NoError(t, os.WriteFile(envFile, []byte("FROM_FILE=file\nSHARED=file\nBASE_OVERRIDDEN=file\n"), 0o644))

	base := []string{"PATH=/bin", "BASE_OVERRIDDEN=base", "SHARED=base", "NOEQUALS", "=hidden", "EMPTY="}
	tests := []struct {
		name string
		p    *Process
		want []string
	}{
		{
			name: "base only",
			p:    &Process{Name: "a"},
			want: []string{"BASE_OVERRIDDEN=base", "EMPTY=", "PATH=/bin", "SHARED=base"},
		},
		{
			name: "env file overrides base",
			p:    &Process{Name: "a", EnvFile: envFile},
			want: []string{"BASE_OVERRIDDEN=file", "EMPTY=", "FROM_FILE=file", "PATH=/bin", "SHARED=file"},
		},
		{
			name: "env overrides env file",
			p:    &Process{Name: "a", EnvFile: envFile, Env: map[string]string{"SHARED": "env", "NEW": "x=y"}},
			want: []string{"BASE_OVERRIDDEN=file", "EMPTY=", "FROM_FILE=file", "NEW=x=y", "PATH=/bin", "SHARED=env"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := (&Config{}).Environ(tt.p, base)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestEnvironDuplicateBaseKeys(t *testing.T) {
	got, err := (&Config{}).Environ(&Process{Name: "a"}, []string{"A=1", "A=2"})
	require.NoError(t, err)
	assert.Equal(t, []string{"A=2"}, got)
}

func TestEnvironErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.env")
	require.NoError(t, os.WriteFile(bad, []byte("A=1\nbroken\n"), 0o644))

	_, err := (&Config{}).Environ(&Process{Name: "a", EnvFile: bad}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "line 2")

	_, err = (&Config{}).Environ(&Process{Name: "a", EnvFile: filepath.Join(dir, "missing.env")}, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestEnvironFromLoadedConfig(t *testing.T) {
	path := writeConfig(t, `
process "web" {
  env_file = "web.env"
  env      = { MODE = "prod" }
}
`)
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(path), "web.env"), []byte("export MODE=dev\nPORT=8080\n"), 0o644))
	cfg, diags := Load(path)
	require.False(t, diags.HasErrors(), "%s", diags.Error())

	got, err := cfg.Environ(cfg.Process("web"), []string{"HOME=/root"})
	require.NoError(t, err)
	assert.Equal(t, []string{"HOME=/root", "MODE=prod", "PORT=8080"}, got)
}

func TestEnvironSharesInheritedEntries(t *testing.T) {
	base := []string{"HOME=/home/u", "PATH=/bin", "LANG=C"}
	a, err := (*Config)(nil).Environ(&Process{Name: "a", Env: map[string]string{"PORT": "1"}}, base)
	require.NoError(t, err)
	b, err := (*Config)(nil).Environ(&Process{Name: "b", Env: map[string]string{"PATH": "/opt/bin"}}, base)
	require.NoError(t, err)
	assert.Equal(t, []string{"HOME=/home/u", "LANG=C", "PATH=/bin", "PORT=1"}, a)
	assert.Equal(t, []string{"HOME=/home/u", "LANG=C", "PATH=/opt/bin"}, b)
	// An entry inherited unchanged is base's own string, not a copy per
	// process: 200 processes do not hold 200 copies of prox's environment.
	assert.Same(t, unsafe.StringData(base[0]), unsafe.StringData(a[0]))
	assert.Same(t, unsafe.StringData(base[0]), unsafe.StringData(b[0]))
}
