package command

import (
	"fmt"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
)

func TestVersion(t *testing.T) {
	ui := cli.NewMockUi()
	c := &VersionCommand{Meta: newMeta(ui)}
	assert.Equal(t, 0, c.Run(nil))
	out := ui.OutputWriter.String()
	assert.Contains(t, out, "prox "+version.Version)
	assert.Contains(t, out, fmt.Sprintf("Plugin protocol version: %d", sdk.ProtocolVersion))
	assert.Contains(t, out, fmt.Sprintf("Plugin API versions: %d", sdk.APIVersions[0]))
}

func TestVersionRejectsArguments(t *testing.T) {
	ui := cli.NewMockUi()
	c := &VersionCommand{Meta: newMeta(ui)}
	assert.Equal(t, 2, c.Run([]string{"extra"}))
	assert.Contains(t, ui.ErrorWriter.String(), "no arguments")
}
