package command

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/plugins/loader"
)

// PluginsLockCommand writes the lock file of the external plugins a
// configuration uses.
type PluginsLockCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *PluginsLockCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox plugins lock [options]

  Writes prox.lock.json beside the configuration file: the path and SHA-256
  of every external plugin binary the configuration uses (built-ins need
  none). While the lock file exists, prox runs no external plugin whose
  hash differs (nor one missing from the lock), and says which file, the
  expected and the actual hash. Run it again after upgrading a plugin.
  Commit the lock file with prox.hcl.

Options:
` + metaHelp)
}

// Synopsis implements cli.Command.
func (c *PluginsLockCommand) Synopsis() string {
	return "Write the lock file with the SHA-256 of every external plugin used."
}

// Run implements cli.Command.
func (c *PluginsLockCommand) Run(args []string) int {
	flags := c.FlagSet("plugins lock")
	if !c.parseFlags(flags, args, c.Help()) {
		return 2
	}
	if flags.NArg() > 0 {
		c.Ui.Error("plugins lock takes no arguments")
		return 2
	}
	logger, err := c.Logger()
	if err != nil {
		c.Ui.Error(err.Error())
		return 2
	}
	cfg, diags := agent.LoadConfig(c.configPath, c.envFile, logger)
	if diags.HasErrors() {
		c.writeDiagnostics(cfg, diags)
		return 1
	}
	// Resolve without the old lock: relocking is how a changed binary is
	// accepted.
	l, err := agent.NewLoader(cfg, logger, nil)
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	var srcs []*loader.Source
	for _, comp := range agent.UsedComponents(cfg) {
		src, err := l.Resolve(comp.Kind, comp.Name)
		if err != nil {
			c.Ui.Error(err.Error())
			return 1
		}
		srcs = append(srcs, src)
	}
	lock, err := loader.LockSources(filepath.Join(cfg.Dir, loader.LockFileName), srcs)
	if err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	if err := lock.Write(); err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	for _, p := range lock.Plugins {
		c.Ui.Output(fmt.Sprintf("%s  %s  (%s)", p.SHA256, p.Path, p.Name))
	}
	c.Ui.Output(fmt.Sprintf("Locked %d external plugin(s) in %s", len(lock.Plugins), lock.Path))
	return 0
}
