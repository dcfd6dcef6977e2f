package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFindSocketOrder(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte("socket = \"run/ctl.sock\"\nprocess \"a\" { command = [\"true\"] }\n"), 0o644))
	t.Setenv(SocketEnv, "")
	assert.Equal(t, filepath.Join(dir, "run", "ctl.sock"), SocketPath("", cfg), "the configuration's socket, beside it")
	t.Setenv(SocketEnv, "/tmp/from-env.sock")
	assert.Equal(t, "/tmp/from-env.sock", SocketPath("", cfg), "PROX_SOCKET beats the configuration")
	assert.Equal(t, "/tmp/flag.sock", SocketPath("/tmp/flag.sock", cfg), "-socket beats everything")

	t.Setenv(SocketEnv, "")
	plain := filepath.Join(dir, "plain.hcl")
	require.NoError(t, os.WriteFile(plain, []byte("process \"a\" { command = [\"true\"] }\n"), 0o644))
	assert.Equal(t, filepath.Join(dir, ".prox", "prox.sock"), SocketPath("", plain), "the default beside the file")
}

func TestSocketOfUsesTheLoadedConfiguration(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(path, []byte("socket = \"run/ctl.sock\"\nprocess \"a\" { command = [\"true\"] }\n"), 0o644))
	cfg, diags := LoadConfig(path, "", hclog.NewNullLogger())
	require.False(t, diags.HasErrors(), diags.Error())
	t.Setenv(SocketEnv, "")
	// Changing the file afterwards does not matter: `prox up` reads it once.
	require.NoError(t, os.WriteFile(path, []byte("socket = \"elsewhere.sock\"\n"), 0o644))
	assert.Equal(t, filepath.Join(dir, "run", "ctl.sock"), socketOf("", path, cfg))
	assert.Equal(t, filepath.Join(dir, ".prox", "prox.sock"), socketOf("", path, nil), "no configuration: the default")
	assert.Equal(t, "/tmp/flag.sock", socketOf("/tmp/flag.sock", path, cfg))
}
