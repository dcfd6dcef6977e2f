package command

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// Meta holds what every command shares: the UI, the output streams and the
// common flags.
type Meta struct {
	Ui cli.Ui
	// Stdout receives command results and process output; Stderr prox's
	// logs. Default os.Stdout and os.Stderr.
	Stdout io.Writer
	Stderr io.Writer

	configPath string
	envFile    string
	logLevel   string
	noColor    bool
	socket     string

	// logOut is the output of the logger Logger made last.
	logOut *logOutput
}

// metaHelp documents the flags of FlagSet.
const metaHelp = `
  -config=FILE       The configuration file. Default: ` + agent.DefaultConfig + `.
  -env-file=FILE     The dotenv file to read instead of the .env beside the
                     configuration (read even when it says dotenv = false).
  -log-level=LEVEL   prox's own log level on stderr: trace, debug, info,
                     warn, error or off. Default: info.
  -no-color          Never colour output (NO_COLOR in the environment
                     does the same).`

// FlagSet returns a flag set with the common flags.
func (m *Meta) FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&m.configPath, "config", agent.DefaultConfig, "configuration file")
	fs.StringVar(&m.envFile, "env-file", "", "dotenv file")
	fs.StringVar(&m.logLevel, "log-level", "info", "log level")
	fs.BoolVar(&m.noColor, "no-color", false, "disable colour")
	return fs
}

func (m *Meta) stdout() io.Writer {
	if m.Stdout == nil {
		return os.Stdout
	}
	return m.Stdout
}

func (m *Meta) stderr() io.Writer {
	if m.Stderr == nil {
		return os.Stderr
	}
	return m.Stderr
}

// Logger returns prox's logger on stderr at the -log-level.
func (m *Meta) Logger() (hclog.Logger, error) {
	level := hclog.LevelFromString(m.logLevel)
	if level == hclog.NoLevel {
		return nil, fmt.Errorf("invalid -log-level %q: want trace, debug, info, warn, error or off", m.logLevel)
	}
	m.logOut = &logOutput{w: m.stderr(), color: m.useColor(m.stderr())}
	return hclog.New(&hclog.LoggerOptions{
		Name:              "prox",
		Level:             level,
		IndependentLevels: true,
		Output:            m.logOut,
		Color:             m.colorMode(m.stderr()),
	}), nil
}

func (m *Meta) colorMode(w io.Writer) hclog.ColorOption {
	if m.useColor(w) {
		return hclog.AutoColor
	}
	return hclog.ColorOff
}

// useColor reports whether output to w may be coloured: only on a
// terminal, never with -no-color or NO_COLOR set.
func (m *Meta) useColor(w io.Writer) bool {
	if m.noColor || os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && isatty.IsTerminal(f.Fd())
}

// parseFlags parses args and reports problems through the UI; it returns
// false when the command should exit with code 1.
func (m *Meta) parseFlags(fs *flag.FlagSet, args []string, help string) bool {
	if err := fs.Parse(args); err != nil {
		m.Ui.Error(err.Error())
		m.Ui.Error(strings.TrimSpace(help))
		return false
	}
	return true
}

// writeDiagnostics renders diags with source snippets of cfg's files
// (none when cfg is nil) on stderr.
func (m *Meta) writeDiagnostics(cfg *config.Config, diags hcl.Diagnostics) {
	files := map[string]*hcl.File{}
	if cfg != nil {
		files = cfg.Files
	}
	if err := config.WriteDiagnostics(m.stderr(), files, diags, 0, m.useColor(m.stderr())); err != nil {
		m.Ui.Error(err.Error())
	}
}

// Exit codes of every command.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the command failed (or, for ps and friends, no prox runs)
	exitUsage   = 2 // bad flags or arguments
)

// socketHelp documents the flag of socketFlag.
const socketHelp = `
  -socket=PATH       The control socket of the running prox. Default:
                     $PROX_SOCKET if set, else .prox/prox.sock in the
                     folder of the configuration file.`

// socketFlag adds -socket to fs.
func (m *Meta) socketFlag(fs *flag.FlagSet) {
	fs.StringVar(&m.socket, "socket", "", "control socket")
}

// socketPath returns the control socket: -socket, else $PROX_SOCKET, else
// .prox/prox.sock beside the -config file. `prox up` listens there and
// every control command connects there, so in a project folder they meet.
func (m *Meta) socketPath() string {
	return agent.SocketPath(m.socket, m.configPath)
}

// controlClient returns a client of the running prox's control socket.
func (m *Meta) controlClient() *control.Client {
	return control.NewClient(m.socketPath())
}

// controlError reports err, the failure of a control command, and returns
// the exit code (1).
func (m *Meta) controlError(err error) int {
	if errors.Is(err, control.ErrNoServer) {
		m.Ui.Error(fmt.Sprintf("prox is not running here: nothing listens on %s. Start it with \"prox up\", or name its socket with -socket, -config or %s.", m.socketPath(), agent.SocketEnv))
		return exitFailure
	}
	m.Ui.Error(err.Error())
	return exitFailure
}

// usageError reports a usage problem with the command's help and returns
// the exit code (2).
func (m *Meta) usageError(msg, help string) int {
	m.Ui.Error(msg)
	m.Ui.Error(strings.TrimSpace(help))
	return exitUsage
}

// interruptible returns ctx (tests), or when ctx is nil a context that
// ends on SIGINT or SIGTERM.
func interruptible(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx != nil {
		return context.WithCancel(ctx)
	}
	return signalContext()
}

// signalContext returns a context that ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
