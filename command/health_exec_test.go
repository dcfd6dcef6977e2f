package command

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestHealthExecOnSSHRunnerValidates validates, through the real ssh
// runner plugin, a process whose exec health check runs where it runs: the
// plugin announces the exec capability, so the check is accepted. The ssh
// runner connects nothing in Configure, so no server is needed; its
// identity file and known_hosts must exist.
func TestHealthExecOnSSHRunnerValidates(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := xssh.MarshalPrivateKey(priv, "prox test")
	require.NoError(t, err)
	identity := filepath.Join(dir, "id_ed25519")
	require.NoError(t, os.WriteFile(identity, pem.EncodeToMemory(block), 0o600))
	sshPub, err := xssh.NewPublicKey(pub)
	require.NoError(t, err)
	known := filepath.Join(dir, "known_hosts")
	require.NoError(t, os.WriteFile(known, []byte(knownhosts.Line([]string{"[127.0.0.1]:2222"}, sshPub)+"\n"), 0o644))

	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `
runner "ssh" "box" {
  host          = "127.0.0.1"
  port          = 2222
  user          = "deploy"
  identity_file = %q
  known_hosts   = %q
  use_agent     = false
}

process "web" {
  runner  = "ssh.box"
  command = ["./web"]
  health {
    exec { command = ["curl", "-fsS", "http://127.0.0.1:8080/health"] }
  }
}
`, identity, known), 0o644))

	ui := cli.NewMockUi()
	c := &ValidateCommand{Meta: newMeta(ui)}
	code := c.Run([]string{"-config", cfg, "-log-level", "warn"})
	assert.NotContains(t, ui.ErrorWriter.String(), "Exec check not supported")
	require.Equal(t, 0, code, "stderr: %s", ui.ErrorWriter.String())
	assert.Contains(t, ui.OutputWriter.String(), "The configuration is valid")
}

// TestHealthSpecExecFollowsTheCapability checks where an exec check runs:
// through a runner that announces the exec capability, locally for the
// exec runner, and nowhere (a diagnostic at the check) otherwise.
func TestHealthSpecExecFollowsTheCapability(t *testing.T) {
	process := func(kind string) *config.Process {
		return &config.Process{
			Name:   "web",
			Runner: config.Ref{Kind: kind, Name: "x"},
			Health: &config.Health{Check: "exec", Exec: &config.ExecCheck{Command: []string{"true"}}},
		}
	}

	spec, diags := healthSpec(process("ssh"), nil, []string{sdk.CapabilityExec})
	require.Empty(t, diags)
	require.IsType(t, &supervisor.RunnerExecCheck{}, spec.Check)
	assert.Equal(t, []string{"true"}, spec.Check.(*supervisor.RunnerExecCheck).Command)

	spec, diags = healthSpec(&config.Process{
		Name: "web", Runner: config.Ref{Kind: config.DefaultRunner},
		Health: &config.Health{Check: "exec", Exec: &config.ExecCheck{Command: []string{"true"}}},
	}, nil, nil)
	require.Empty(t, diags)
	assert.IsType(t, &supervisor.LocalExecCheck{}, spec.Check)

	_, diags = healthSpec(process("teleport"), nil, nil)
	require.Len(t, diags, 1)
	assert.Equal(t, "Exec check not supported by the runner", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, `"teleport" runner`)
}
