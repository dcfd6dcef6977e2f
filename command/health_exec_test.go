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
