package command

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/config"
)

// GraphCommand prints the dependency graph of the configuration.
type GraphCommand struct {
	Meta
}

// Help implements cli.Command.
func (c *GraphCommand) Help() string {
	return strings.TrimSpace(`
Usage: prox graph [options]

  Prints the dependency graph of the configuration (depends_on): as an
  indented text tree, each process under the processes it waits for, with
  the condition, a process with replicas once with its count ("web ×3");
  or, with -format dot, in Graphviz's dot language:

      prox graph -format dot | dot -Tsvg > graph.svg

Options:

  -format=FORMAT     text (default) or dot.
` + metaHelp)
}

// Synopsis implements cli.Command.
func (c *GraphCommand) Synopsis() string {
	return "Print the dependency graph of the processes."
}

// Run implements cli.Command.
func (c *GraphCommand) Run(args []string) int {
	flags := c.FlagSet("graph")
	format := flags.String("format", "text", "text or dot")
	if !c.parseFlags(flags, args, c.Help()) {
		return 2
	}
	if flags.NArg() > 0 || (*format != "text" && *format != "dot") {
		c.Ui.Error("graph takes no arguments and -format text or dot")
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
	if *format == "dot" {
		writeDot(c.stdout(), cfg)
	} else {
		writeTree(c.stdout(), cfg)
	}
	return 0
}

// writeTree prints every process without dependencies at the top, and
// under each process the processes that depend on it.
func writeTree(w io.Writer, cfg *config.Config) {
	dependents := map[string][]string{}
	conditions := map[[2]string]string{}
	for _, p := range cfg.Processes {
		for _, d := range p.DependsOn {
			dependents[d.Name] = append(dependents[d.Name], p.Name)
			conditions[[2]string{d.Name, p.Name}] = d.Condition
		}
	}
	var walk func(name, parent string, depth int)
	walk = func(name, parent string, depth int) {
		line := strings.Repeat("    ", depth) + graphLabel(cfg, name)
		if parent != "" {
			line = strings.Repeat("    ", depth-1) + "└── " + graphLabel(cfg, name) + " (after " + parent + " " + conditions[[2]string{parent, name}] + ")"
		}
		fmt.Fprintln(w, line)
		for _, d := range dependents[name] {
			walk(d, name, depth+1)
		}
	}
	for _, p := range cfg.Processes {
		if len(p.DependsOn) == 0 {
			walk(p.Name, "", 0)
		}
	}
}

// writeDot prints the graph in Graphviz's dot language; edges go from a
// dependency to its dependent, labelled with the condition.
func writeDot(w io.Writer, cfg *config.Config) {
	fmt.Fprintln(w, "digraph prox {")
	fmt.Fprintln(w, "  rankdir=LR;")
	for _, p := range cfg.Processes {
		if p.Replicas > 1 {
			fmt.Fprintf(w, "  %s [label=%s];\n", strconv.Quote(p.Name), strconv.Quote(graphLabel(cfg, p.Name)))
			continue
		}
		fmt.Fprintf(w, "  %s;\n", strconv.Quote(p.Name))
	}
	for _, p := range cfg.Processes {
		for _, d := range p.DependsOn {
			fmt.Fprintf(w, "  %s -> %s [label=%s];\n", strconv.Quote(d.Name), strconv.Quote(p.Name), strconv.Quote(d.Condition))
		}
	}
	fmt.Fprintln(w, "}")
}

// graphLabel is a process's name in the graph, with its count when it has
// replicas ("web ×3"): a dependency on it waits for every instance.
func graphLabel(cfg *config.Config, name string) string {
	if p := cfg.Process(name); p != nil && p.Replicas > 1 {
		return fmt.Sprintf("%s ×%d", name, p.Replicas)
	}
	return name
}
