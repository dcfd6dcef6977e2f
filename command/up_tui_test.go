package command

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/stretchr/testify/assert"
)

func TestHeldOutputKeepsLinesUntilReleased(t *testing.T) {
	var out bytes.Buffer
	h := &heldOutput{w: &out}
	_, _ = h.Write([]byte("before\n"))
	h.hold()
	_, _ = h.Write([]byte("during\n"))
	assert.Equal(t, "before\n", out.String(), "held while the UI has the terminal")
	big := bytes.Repeat([]byte("x"), maxHeld)
	_, _ = h.Write(big)
	h.release()
	_, _ = h.Write([]byte("after\n"))
	assert.Equal(t, "before\nduring\nprox: 4194304 bytes of prox's log lines were not kept while the UI was open\nafter\n", out.String())
}

func TestUITakesATerminal(t *testing.T) {
	for _, args := range [][]string{{"up", "-tui"}, {"top"}} {
		var stdout, stderr bytes.Buffer
		meta := Meta{Ui: &cli.BasicUi{Writer: &stdout, ErrorWriter: &stderr}, Stdout: &stdout, Stderr: &stderr}
		cmd, err := Commands(meta)[args[0]]()
		assert.NoError(t, err)
		code := cmd.Run(append(args[1:], "-socket", t.TempDir()+"/none.sock"))
		if args[0] == "top" {
			// No prox: the message of prox ps comes first.
			assert.Equal(t, exitFailure, code)
			assert.Contains(t, stderr.String(), "prox is not running here")
			continue
		}
		assert.Equal(t, exitUsage, code)
		assert.True(t, strings.Contains(stderr.String(), "needs a terminal"), stderr.String())
	}
}

func TestUpTUIAndDetachExcludeEachOther(t *testing.T) {
	var stdout, stderr bytes.Buffer
	meta := Meta{Ui: &cli.BasicUi{Writer: &stdout, ErrorWriter: &stderr}, Stdout: &stdout, Stderr: &stderr}
	cmd, err := Commands(meta)["up"]()
	assert.NoError(t, err)
	assert.Equal(t, exitUsage, cmd.Run([]string{"-tui", "-d"}))
	assert.Contains(t, stderr.String(), "-tui and -d exclude each other")
}
