package command

import (
	"fmt"
	"strings"

	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/sdk"
)

// VersionCommand prints prox's version and the plugin versions it speaks.
type VersionCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *VersionCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox version [options]

  Prints the version of prox, the plugin protocol version and the plugin
  API versions it supports.
`)
}

// Synopsis implements cli.Command.
func (c *VersionCommand) Synopsis() string {
	return "Print the version of prox and of its plugin protocol."
}

// Run implements cli.Command.
func (c *VersionCommand) Run(args []string) int {
	if len(args) > 0 {
		c.Ui.Error("version takes no arguments")
		c.Ui.Error(c.Help())
		return 2
	}
	apis := make([]string, len(sdk.APIVersions))
	for i, v := range sdk.APIVersions {
		apis[i] = fmt.Sprint(v)
	}
	c.Ui.Output("prox " + version.Version)
	c.Ui.Output(fmt.Sprintf("Plugin protocol version: %d", sdk.ProtocolVersion))
	c.Ui.Output("Plugin API versions: " + strings.Join(apis, ", "))
	return 0
}
