// Package command is prox's CLI, on github.com/hashicorp/cli (the
// maintained continuation of mitchellh/cli). It is the composition root:
// only here are config, plugin loader, supervisor and logs wired together.
package command

import (
	"io"
	"os"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/internal/version"
)

// Run runs the prox CLI with args (without the program name) and returns
// the exit code.
func Run(args []string) int {
	return RunWith(args, os.Stdout, os.Stderr)
}

// RunWith is Run with explicit output streams: process output and command
// results go to stdout, prox's own logs and errors to stderr.
func RunWith(args []string, stdout, stderr io.Writer) int {
	defer plugin.CleanupClients()
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: stdout, ErrorWriter: stderr}
	meta := Meta{Ui: ui, Stdout: stdout, Stderr: stderr}
	c := &cli.CLI{
		Name:           "prox",
		Version:        version.Version,
		Args:           args,
		Commands:       Commands(meta),
		HiddenCommands: []string{"plugin-serve"},
		HelpWriter:     stdout,
		ErrorWriter:    stderr,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error(err.Error())
		return 1
	}
	return code
}

// Commands returns the command factories of the CLI.
func Commands(meta Meta) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"up":           func() (cli.Command, error) { return &UpCommand{Meta: meta}, nil },
		"validate":     func() (cli.Command, error) { return &ValidateCommand{Meta: meta}, nil },
		"version":      func() (cli.Command, error) { return &VersionCommand{Meta: meta}, nil },
		"init":         func() (cli.Command, error) { return &InitCommand{Meta: meta}, nil },
		"graph":        func() (cli.Command, error) { return &GraphCommand{Meta: meta}, nil },
		"plugins lock": func() (cli.Command, error) { return &PluginsLockCommand{Meta: meta}, nil },
		"plugin-serve": func() (cli.Command, error) { return &PluginServeCommand{Meta: meta}, nil },
	}
}
