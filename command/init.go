package command

import (
	"errors"
	"io/fs"
	"os"
	"strings"

	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/config"
)

// InitCommand writes a commented prox.hcl: from the Procfile when there is
// one, else a starter file.
type InitCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *InitCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox init [options]

  Writes a commented prox.hcl in the current folder (or the file named by
  -config): converted from the Procfile when there is one (each command
  through sh -c, PORT from 5000 in steps of 100, .env loaded, as foreman
  does), else a starter file. It never overwrites an existing file unless
  -force is given. The result passes prox validate.

Options:

  -force             Overwrite an existing file.
` + metaHelp)
}

// Synopsis implements cli.Command.
func (c *InitCommand) Synopsis() string {
	return "Write a prox.hcl, converted from the Procfile if there is one."
}

// starterConfig is what prox init writes without a Procfile.
const starterConfig = `# prox.hcl: the processes prox runs.  prox up starts them, Ctrl-C stops them.
# Reference: docs/configuration.md

process "web" {
  # argv, no implicit shell: use ["sh", "-c", "..."] for shell syntax.
  command = ["sh", "-c", "echo serving on port $PORT; exec sleep 3600"]
  env     = { PORT = "8000" }

  # Graceful stop: this signal, then SIGKILL after the timeout.
  stop {
    signal  = "SIGTERM"
    timeout = "10s"
  }

  # Restart when it fails, with exponential backoff.
  restart {
    policy  = "on-failure"
    backoff = "1s"
  }
}

process "worker" {
  command = ["sh", "-c", "while true; do echo working; sleep 5; done"]

  # Start only once web runs.
  depends_on = ["web"]
}
`

// Run implements cli.Command.
func (c *InitCommand) Run(args []string) int {
	flags := c.FlagSet("init")
	force := flags.Bool("force", false, "overwrite")
	if !c.parseFlags(flags, args, c.Help()) {
		return 2
	}
	if flags.NArg() > 0 {
		c.Ui.Error("init takes no arguments")
		return 2
	}
	if _, err := os.Stat(c.configPath); err == nil && !*force {
		c.Ui.Error(c.configPath + " already exists; use -force to overwrite it")
		return 1
	}
	content := []byte(starterConfig)
	from := "a starter configuration"
	if f, err := os.Open(agent.ProcfileName); err == nil {
		entries, diags := config.ParseProcfile(f, agent.ProcfileName)
		f.Close()
		if diags.HasErrors() {
			c.writeDiagnostics(nil, diags)
			return 1
		}
		_, envErr := os.Stat(".env")
		content = config.ProcfileHCL(entries, envErr == nil)
		from = "the Procfile"
	} else if !errors.Is(err, fs.ErrNotExist) {
		c.Ui.Error(err.Error())
		return 1
	}
	if err := os.WriteFile(c.configPath, content, 0o644); err != nil {
		c.Ui.Error(err.Error())
		return 1
	}
	c.Ui.Output("Wrote " + c.configPath + " from " + from + "; check it with: prox validate -config " + c.configPath)
	return 0
}
