// Package command is prox's CLI, on github.com/hashicorp/cli (the
// maintained continuation of mitchellh/cli). It parses flags and prints;
// package agent, the composition root, wires config, plugins, supervisor,
// logs and control together.
package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-plugin"
	"github.com/posener/complete"
	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// Run runs the prox CLI with args (without the program name) and returns
// the exit code. It is prox's entry point in every mode (plugin-serve too),
// so it first marks every descriptor prox inherited above 2 close-on-exec:
// none reaches a plugin or a process.
func Run(args []string) int {
	if err := markInheritedCloseOnExec(); err != nil {
		fmt.Fprintf(os.Stderr, "prox: warning: descriptors inherited from the parent process may reach the processes prox starts: %v\n", err)
	}
	return RunWith(args, os.Stdout, os.Stderr)
}

// RunWith is Run with explicit output streams: process output and command
// results go to stdout, prox's own logs and errors to stderr.
func RunWith(args []string, stdout, stderr io.Writer) int {
	defer plugin.CleanupClients()
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: stdout, ErrorWriter: stderr}
	meta := Meta{Ui: ui, Stdout: stdout, Stderr: stderr}
	commands := Commands(meta)
	// Shell completion (bash runs "prox prox WORD PREV" with COMP_LINE
	// set) is hashicorp/cli's: no usage error must get in its way.
	if os.Getenv("COMP_LINE") == "" {
		if msg, ok := usageOfProx(args, commands); ok {
			ui.Error(msg)
			return exitUsage
		}
	}
	c := &cli.CLI{
		Name:           "prox",
		Version:        version.Version,
		Args:           args,
		Commands:       commands,
		HiddenCommands: []string{"plugin-serve"},
		// prox -autocomplete-install adds completion of commands, flags
		// and process names to the user's bash, zsh or fish.
		Autocomplete: true,
		HelpWriter:   stdout,
		ErrorWriter:  stderr,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error(err.Error())
		return 1
	}
	return code
}

// familiar maps the words of other tools (compose, foreman, supervisorctl)
// to prox's commands, for the message of an unknown command.
var familiar = map[string]string{
	"status": "ps",
	"run":    "up",
	"kill":   "signal NAME KILL",
	"log":    "logs",
	"check":  "validate",
}

// cliFlags are the flags prox itself takes before a command, which
// hashicorp/cli handles: help, version, and the installation of shell
// completion.
var cliFlags = []string{
	"-h", "-help", "--help", "-v", "-version", "--version",
	"-autocomplete-install", "--autocomplete-install", "-autocomplete-uninstall", "--autocomplete-uninstall",
}

// usageOfProx says, when args are not a command prox runs, what was wrong
// and what to type instead: no command, a flag before the command that
// prox itself does not take, an unknown command or subcommand.
// hashicorp/cli would print the whole help and exit 127 (1 for a flag
// before the command), where prox's usage errors exit 2.
func usageOfProx(args []string, commands map[string]cli.CommandFactory) (string, bool) {
	var names []string
	for n := range commands {
		if !strings.Contains(n, " ") && n != "plugin-serve" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	list := "The commands are: " + strings.Join(names, ", ") + ". Run \"prox -help\" for more."
	if len(args) == 0 {
		return "Usage: prox COMMAND [options] [args]\n" + list, true
	}
	for _, arg := range args {
		if arg == "--" || !strings.HasPrefix(arg, "-") {
			break
		}
		if !slices.Contains(cliFlags, arg) {
			return fmt.Sprintf("prox: unknown flag %q before the command: prox itself takes only -help and -version; "+
				"a command's flags go after it, as in \"prox up -config FILE\".\n%s", arg, list), true
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return "", false // help, version and completion flags: cli's own
	}
	name := args[0]
	if _, ok := commands[name]; ok {
		return unknownSubcommand(args, commands)
	}
	msg := fmt.Sprintf("prox: unknown command %q.", name)
	if alt, ok := familiar[name]; ok && commands[strings.Fields(alt)[0]] != nil {
		msg += fmt.Sprintf(" Did you mean \"prox %s\"?", alt)
	} else if best := config.Suggest(name, names); best != "" && len(name) > 2 {
		msg += fmt.Sprintf(" Did you mean \"prox %s\"?", best)
	}
	return msg + "\n" + list, true
}

// unknownSubcommand says, when args[0] is a command with subcommands
// ("plugins lock") and args[1] a word that names none of them, which
// ones there are. Such a command takes no arguments of its own.
func unknownSubcommand(args []string, commands map[string]cli.CommandFactory) (string, bool) {
	var subs []string
	for n := range commands {
		if sub, ok := strings.CutPrefix(n, args[0]+" "); ok {
			subs = append(subs, sub)
		}
	}
	if len(subs) == 0 || len(args) < 2 || strings.HasPrefix(args[1], "-") || slices.Contains(subs, args[1]) {
		return "", false
	}
	slices.Sort(subs)
	msg := fmt.Sprintf("prox: unknown command \"%s %s\".", args[0], args[1])
	if best := config.Suggest(args[1], subs); best != "" {
		msg += fmt.Sprintf(" Did you mean \"prox %s %s\"?", args[0], best)
	}
	return msg + fmt.Sprintf("\nThe commands of prox %s are: %s. Run \"prox %s -help\" for more.", args[0], strings.Join(subs, ", "), args[0]), true
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
		"ps":           func() (cli.Command, error) { return &PsCommand{Meta: meta}, nil },
		"top":          func() (cli.Command, error) { return &TopCommand{Meta: meta}, nil },
		"logs":         func() (cli.Command, error) { return &LogsCommand{Meta: meta}, nil },
		"start":        func() (cli.Command, error) { return newActionCommand(meta, "start"), nil },
		"stop":         func() (cli.Command, error) { return newActionCommand(meta, "stop"), nil },
		"restart":      func() (cli.Command, error) { return newActionCommand(meta, "restart"), nil },
		"signal":       func() (cli.Command, error) { return &SignalCommand{Meta: meta}, nil },
		"events":       func() (cli.Command, error) { return &EventsCommand{Meta: meta}, nil },
		"sinks":        func() (cli.Command, error) { return &SinksCommand{Meta: meta}, nil },
		"plugins":      func() (cli.Command, error) { return &PluginsCommand{Meta: meta}, nil },
		"down":         func() (cli.Command, error) { return &DownCommand{Meta: meta}, nil },
		"attach":       func() (cli.Command, error) { return &AttachCommand{Meta: meta}, nil },
		"reload":       func() (cli.Command, error) { return &ReloadCommand{Meta: meta}, nil },
		"scale":        func() (cli.Command, error) { return &ScaleCommand{Meta: meta}, nil },
	}
}

// completeTimeout bounds the request for process names during shell
// completion.
const completeTimeout = time.Second

// withCommonFlags adds the completion of the flags every control command
// takes to flags.
func withCommonFlags(flags complete.Flags) complete.Flags {
	flags["-config"] = complete.PredictFiles("*.hcl")
	flags["-env-file"] = complete.PredictFiles("*")
	flags["-socket"] = complete.PredictFiles("*")
	flags["-log-level"] = complete.PredictSet("trace", "debug", "info", "warn", "error", "off")
	flags["-no-color"] = complete.PredictNothing
	return flags
}

// predictProcesses completes process names: it asks the prox running on
// the socket that the command line names (-socket, -config), or the
// default one.
func predictProcesses() complete.Predictor {
	return complete.PredictFunc(func(a complete.Args) []string {
		socket := agent.SocketPath(flagValue(a.All, "socket"), flagValue(a.All, "config"))
		ctx, cancel := context.WithTimeout(context.Background(), completeTimeout)
		defer cancel()
		client := control.NewClient(socket)
		defer client.Close()
		ps, err := client.Processes(ctx)
		if err != nil {
			return nil
		}
		// A process with replicas: its name (all its instances), then
		// each instance's.
		var names []string
		for _, p := range ps {
			if g := groupOf(p); g != p.Name && !slices.Contains(names, g) {
				names = append(names, g)
			}
			names = append(names, p.Name)
		}
		return names
	})
}

// flagValue finds the value of -name (or --name) on a command line:
// "-name value" or "-name=value"; "" if absent.
func flagValue(args []string, name string) string {
	for i, a := range args {
		flag := strings.TrimLeft(a, "-")
		if flag == a {
			continue
		}
		if v, ok := strings.CutPrefix(flag, name+"="); ok {
			return v
		}
		if flag == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}
