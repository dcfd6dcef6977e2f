package command

import (
	"context"
	"strings"
	"time"

	"github.com/prox-dev/prox/agent"
)

// ValidateCommand checks a configuration file, its plugins and their
// blocks, and reports every problem.
type ValidateCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *ValidateCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox validate [options]

  Checks the configuration file: its syntax, every block and attribute,
  the references between them, and the blocks that belong to plugins,
  against the schemas the plugins declare (the plugins it uses are started
  for that, then stopped). Every error is reported, with file, line and
  column. Exits 0 when the file is valid, 1 otherwise.

Options:
` + metaHelp)
}

// Synopsis implements cli.Command.
func (c *ValidateCommand) Synopsis() string {
	return "Check a configuration file and report every error in it."
}

// Run implements cli.Command.
func (c *ValidateCommand) Run(args []string) int {
	fs := c.FlagSet("validate")
	if !c.parseFlags(fs, args, c.Help()) {
		return 2
	}
	if fs.NArg() > 0 {
		c.Ui.Error("validate takes no arguments; name the file with -config")
		return 2
	}
	logger, err := c.Logger()
	if err != nil {
		c.Ui.Error(err.Error())
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, diags := agent.Check(ctx, agent.Options{ConfigPath: c.configPath, EnvFile: c.envFile, Logger: logger})
	if len(diags) > 0 {
		c.writeDiagnostics(cfg, diags)
	}
	if diags.HasErrors() {
		return 1
	}
	c.Ui.Output("The configuration is valid: " + c.configPath)
	return 0
}
