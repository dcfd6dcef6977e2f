package command

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/posener/complete"
	"github.com/prox-dev/prox/internal/version"
	"github.com/prox-dev/prox/plugins/builtin"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/config"
)

// PluginsCommand lists the runners and sinks prox can use.
type PluginsCommand struct {
	Meta
	json bool
}

// PluginComponent is one runner or sink in the output of `prox plugins
// -json`.
type PluginComponent struct {
	// Kind is "runner" or "sink".
	Kind string `json:"kind"`
	// Name is the component's name, as prox.hcl refers to it.
	Name string `json:"name"`
	// Plugin is the plugin that provides it ("builtin" for built-ins).
	Plugin string `json:"plugin"`
	// Version is the plugin's version.
	Version string `json:"version"`
	// APIVersions are the plugin API versions it speaks.
	APIVersions []int `json:"api_versions"`
	// Builtin is true for the components inside the prox binary.
	Builtin bool `json:"builtin"`
	// Path is the plugin binary; "" for built-ins.
	Path string `json:"path,omitempty"`
}

// PluginProblem is an external plugin that could not be described.
type PluginProblem struct {
	Plugin string `json:"plugin"`
	Path   string `json:"path"`
	Error  string `json:"error"`
}

// PluginsOutput is the output of `prox plugins -json`.
type PluginsOutput struct {
	// ProxVersion is prox's version.
	ProxVersion string `json:"prox_version"`
	// APIVersions are the plugin API versions prox speaks.
	APIVersions []int `json:"api_versions"`
	// Components are the runners and sinks, built-in ones first.
	Components []PluginComponent `json:"components"`
	// Problems are the external plugins that could not be described.
	Problems []PluginProblem `json:"problems"`
}

// Help implements cli.Command.
func (c *PluginsCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox plugins [options]

  Lists the runners and sinks prox can use: the built-in ones, then those
  of external plugins, found as prox up finds them: the configuration's
  plugin blocks (their sha256 checked before anything is run), then the
  prox-plugin-* executables of plugin_dir and ~/.prox/plugins. Each comes
  with its plugin, version and plugin API versions. A plugin that cannot
  be described is listed as a problem.

  The configuration file is read only for its plugin blocks and
  plugin_dir; without one (and without -config), only the built-ins and
  ~/.prox/plugins are listed. No prox needs to be running.

  Exits 0 on success (problems included), 1 when the configuration is
  invalid, 2 on a usage error.

Options:

  -json              Print {"prox_version", "api_versions", "components":
                     [{"kind", "name", "plugin", "version",
                     "api_versions", "builtin", "path"}], "problems":
                     [{"plugin", "path", "error"}]}.
` + metaHelp)
}

// Synopsis implements cli.Command.
func (c *PluginsCommand) Synopsis() string {
	return "List the runners and sinks prox can use, with their versions."
}

// AutocompleteArgs implements cli.CommandAutocomplete: no arguments.
func (c *PluginsCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }

// AutocompleteFlags implements cli.CommandAutocomplete.
func (c *PluginsCommand) AutocompleteFlags() complete.Flags {
	flags := withCommonFlags(complete.Flags{"-json": complete.PredictNothing})
	delete(flags, "-socket")
	return flags
}

// Run implements cli.Command.
func (c *PluginsCommand) Run(args []string) int {
	fs := c.FlagSet("plugins")
	fs.BoolVar(&c.json, "json", false, "JSON output")
	if !c.parseFlags(fs, args, c.Help()) {
		return exitUsage
	}
	if fs.NArg() > 0 {
		return c.usageError("plugins takes no arguments", c.Help())
	}
	externals, dirs, ok := c.pluginSources(fs)
	if !ok {
		return exitFailure
	}
	out := PluginsOutput{ProxVersion: version.Version, APIVersions: sdk.APIVersions, Components: []PluginComponent{}, Problems: []PluginProblem{}}
	for _, comp := range builtin.Components() {
		out.Components = append(out.Components, PluginComponent{
			Kind: string(comp.Kind), Name: comp.Name, Plugin: builtin.PluginName,
			Version: version.Version, APIVersions: sdk.APIVersions, Builtin: true,
		})
	}
	for _, l := range loader.List(externals, dirs, nil) {
		if l.Err != nil {
			out.Problems = append(out.Problems, PluginProblem{Plugin: l.Name, Path: l.Path, Error: l.Err.Error()})
			continue
		}
		d := l.Description
		add := func(kind sdk.Kind, names []string) {
			for _, n := range names {
				out.Components = append(out.Components, PluginComponent{
					Kind: string(kind), Name: n, Plugin: l.Name, Version: d.Version, APIVersions: d.APIVersions, Path: l.Path,
				})
			}
		}
		add(sdk.KindRunner, d.Runners)
		add(sdk.KindSink, d.Sinks)
	}
	if c.json {
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			c.Ui.Error(err.Error())
			return exitFailure
		}
		c.Ui.Output(string(b))
		return exitOK
	}
	c.Ui.Output(pluginsTable(out))
	for _, p := range out.Problems {
		c.Ui.Warn(fmt.Sprintf("plugin %s (%s): %s", p.Plugin, p.Path, p.Error))
	}
	return exitOK
}

// pluginSources reads the plugin blocks and plugin_dir of the
// configuration, when there is one, and returns the directories searched
// for plugins. It reports an invalid configuration and returns false.
func (c *PluginsCommand) pluginSources(fs *flag.FlagSet) ([]loader.External, []string, bool) {
	explicit := false
	fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "config" })
	var externals []loader.External
	var dirs []string
	_, err := os.Stat(c.configPath)
	if explicit || !errors.Is(err, os.ErrNotExist) {
		cfg, diags := config.Load(c.configPath)
		if diags.HasErrors() {
			c.writeDiagnostics(cfg, diags)
			return nil, nil, false
		}
		for _, p := range cfg.Plugins {
			externals = append(externals, loader.External{Name: p.Name, Path: p.Path, SHA256: p.SHA256})
		}
		if cfg.PluginDir != "" {
			dirs = append(dirs, cfg.PluginDir)
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".prox", "plugins"))
	}
	return externals, dirs, true
}

// pluginsTable renders the components as an aligned table, after prox's
// own versions.
func pluginsTable(out PluginsOutput) string {
	var b strings.Builder
	fmt.Fprintf(&b, "prox %s, plugin API versions %s\n\n", out.ProxVersion, intList(out.APIVersions))
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tPLUGIN\tVERSION\tAPI\tSOURCE")
	for _, comp := range out.Components {
		source := "built-in"
		if !comp.Builtin {
			source = comp.Path
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", comp.Kind, comp.Name, comp.Plugin, comp.Version, intList(comp.APIVersions), source)
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// intList prints 1, 2, 3.
func intList(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}
