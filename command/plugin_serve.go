package command

import (
	"strings"

	"github.com/prox-dev/prox/internal/profile"
	"github.com/prox-dev/prox/plugins/builtin"
)

// PluginServeCommand serves one built-in plugin component; prox runs its
// own binary with it to launch built-ins out of process. It is hidden.
type PluginServeCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *PluginServeCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox plugin-serve [options] KIND NAME

  Serves the built-in plugin component KIND NAME (for example "runner exec")
  over go-plugin. prox runs this itself; it is not meant to be run by hand.
`)
}

// Synopsis implements cli.Command.
func (c *PluginServeCommand) Synopsis() string {
	return "Serve a built-in plugin component (used by prox itself)."
}

// Run implements cli.Command.
func (c *PluginServeCommand) Run(args []string) int {
	if len(args) != 2 {
		c.Ui.Error("plugin-serve needs exactly two arguments: KIND NAME")
		c.Ui.Error(c.Help())
		return 2
	}
	stopProfile, err := profile.Start(args[0] + "-" + args[1])
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	defer func() { _ = stopProfile() }()
	if err := builtin.Serve(args[0], args[1]); err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	return 0
}
