package command

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/mattn/go-isatty"
	"github.com/prox-dev/prox/supervisor/config"
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
	logLevel   string
	noColor    bool
}

// metaHelp documents the flags of FlagSet.
const metaHelp = `
  -config=FILE       The configuration file. Default: prox.hcl.
  -log-level=LEVEL   prox's own log level on stderr: trace, debug, info,
                     warn, error or off. Default: info.
  -no-color          Never colour output (NO_COLOR in the environment
                     does the same).`

// FlagSet returns a flag set with the common flags.
func (m *Meta) FlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&m.configPath, "config", "prox.hcl", "configuration file")
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
	return hclog.New(&hclog.LoggerOptions{
		Name:              "prox",
		Level:             level,
		IndependentLevels: true,
		Output:            m.stderr(),
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

// writeDiagnostics renders diags with source snippets on stderr.
func (m *Meta) writeDiagnostics(st *stack, diags hcl.Diagnostics) {
	files := map[string]*hcl.File{}
	if st != nil && st.cfg != nil {
		files = st.cfg.Files
	}
	if err := config.WriteDiagnostics(m.stderr(), files, diags, 0, m.useColor(m.stderr())); err != nil {
		m.Ui.Error(err.Error())
	}
}
