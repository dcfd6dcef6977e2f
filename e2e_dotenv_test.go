package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEnvFileIsTheSameForValidateUpDetachedAndReload(t *testing.T) {
	// One env file for every command that reads the configuration: the
	// .env beside it, or the file -env-file names, for env() in prox.hcl
	// and for the processes, in prox validate, prox up -d and a reload of
	// that prox.
	p := newProject(t, `
process "show" {
  command = ["sh", "-c", "echo GREETING=$GREETING PORT=$1; exec sleep 600", "sh", env("PORT")]
}
`)
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, ".env"), []byte("GREETING=from-dotenv\nPORT=1\n"), 0o644))
	staging := filepath.Join(p.dir, "staging.env")
	require.NoError(t, os.WriteFile(staging, []byte("GREETING=from-staging\nPORT 2\n"), 0o644))

	// A bad line of the file -env-file names: validate and up -d both
	// say where, and up -d starts nothing.
	for _, args := range [][]string{{"validate", "-env-file", staging}, {"up", "-d", "-env-file", staging}} {
		code, _, errOut := p.prox(t, args...)
		assert.Equal(t, 1, code, "%v: %s", args, errOut)
		assert.Contains(t, errOut, "on "+staging+" line 2:\n   2: PORT 2\n", "%v", args)
	}
	assert.NoFileExists(t, p.path("prox.pid"), "up -d started nothing")

	require.NoError(t, os.WriteFile(staging, []byte("GREETING=from-staging\nPORT=2\n"), 0o644))
	code, out, errOut := p.prox(t, "validate", "-env-file", staging)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	code, out, errOut = p.prox(t, "up", "-d", "-env-file", staging)
	require.Equal(t, 0, code, "%s%s", out, errOut)
	p.waitLog(t, `(?m)^show \| GREETING=from-staging PORT=2$`)

	// A reload reads the same file again, not .env.
	require.NoError(t, os.WriteFile(staging, []byte("GREETING=staging-again\nPORT=3\n"), 0o644))
	code, out, errOut = p.prox(t, "reload")
	require.Equal(t, 0, code, "%s%s", out, errOut)
	assert.Regexp(t, `(?m)^restart:\s+show$`, out)
	p.waitLog(t, `(?m)^show \| GREETING=staging-again PORT=3$`)

	// It cannot be given another one.
	code, _, errOut = p.prox(t, "reload", "-env-file", filepath.Join(p.dir, ".env"))
	assert.Equal(t, 2, code, errOut)
	assert.NotContains(t, p.log(t), "from-dotenv", ".env was never read")

	code, out, errOut = p.prox(t, "down")
	require.Equal(t, 0, code, "%s%s", out, errOut)
}
