package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/prox-dev/prox/supervisor/policy"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sys/unix"
)

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "plugin_dir"}, {Name: "socket"}, {Name: "dotenv"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "process", LabelNames: []string{"name"}},
		{Type: "runner", LabelNames: []string{"kind", "name"}},
		{Type: "sink", LabelNames: []string{"kind", "name"}},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "metrics"},
	},
}

var processSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "command"},
		{Name: "env"},
		{Name: "env_file"},
		{Name: "dir"},
		{Name: "runner"},
		{Name: "sinks"},
		{Name: "depends_on"},
		{Name: "log_lines"},
		{Name: "replicas"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "stop"}, {Type: "restart"}, {Type: "health"},
		{Type: "depends_on", LabelNames: []string{"name"}},
	},
}

var stopSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "signal"}, {Name: "timeout"}},
}

var restartSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "policy"},
		{Name: "backoff"},
		{Name: "max_backoff"},
		{Name: "reset_after"},
		{Name: "max_restarts"},
		{Name: "window"},
		{Name: "success_codes"},
	},
}

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "path", Required: true}, {Name: "sha256"}, {Name: "override"}},
}

// Load reads, parses, decodes and validates the configuration file at
// path. Diagnostics name the file by path as given, while Config.Path is
// absolute. A Config is returned even when there are errors, so that its
// Files can be used with WriteDiagnostics.
func Load(path string) (*Config, hcl.Diagnostics) {
	return LoadWith(path, LoadOptions{})
}

// LoadWith is Load with options.
func LoadWith(path string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		cfg := newConfig(path)
		detail := fmt.Sprintf("Cannot read %s: %s.", path, err)
		if errors.Is(err, fs.ErrNotExist) {
			detail += " \"prox init\" writes a commented one (from the Procfile, if there is one); -config names another file."
		}
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Failed to read configuration file",
			Detail:   detail,
		}}
	}
	return ParseWith(src, path, opts)
}

// Parse is like Load but takes the file content from src; filename names
// the file in diagnostics and locates it: Dir is the folder of its
// absolute form.
//
// When the file has syntax errors only those are reported and the
// returned Config holds no blocks. Otherwise every decoding and validation
// error is reported, sorted by position.
func Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	return ParseWith(src, filename, LoadOptions{})
}

// ParseWith is Parse with options.
func ParseWith(src []byte, filename string, opts LoadOptions) (*Config, hcl.Diagnostics) {
	cfg := newConfig(filename)
	file, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if file != nil {
		cfg.Files[filename] = file
	}
	if diags.HasErrors() || file == nil {
		if file != nil {
			hintTemplateSyntax(diags, file.Body, src)
		}
		hintBlockShapes(diags, src)
		return cfg, diags
	}
	if dd := loadDotenv(file.Body, cfg, filename, opts); dd.HasErrors() {
		return cfg, append(diags, dd...)
	}
	d := &decoder{cfg: cfg, ctx: evalContext(cfg.Dir, cfg.Dotenv), src: src}
	diags = append(diags, d.decodeRoot(file.Body)...)
	diags = append(diags, validate(cfg, d.refs)...)
	HintEnvVariables(diags, cfg.Files)
	hintBlockShapes(diags, src)
	sortDiagnostics(diags)
	return cfg, diags
}

func newConfig(filename string) *Config {
	abs, err := filepath.Abs(filename)
	if err != nil {
		abs = filepath.Clean(filename)
	}
	return &Config{Path: abs, Dir: filepath.Dir(abs), Files: map[string]*hcl.File{}}
}

// decoder holds the state of one decoding pass.
type decoder struct {
	cfg *Config
	ctx *hcl.EvalContext
	src []byte
	// refs records, per process, which references were parsed
	// successfully and must be resolved against the runner and sink blocks.
	refs map[*Process]*processRefs
}

// processRefs tells which references of a process are valid syntax.
type processRefs struct {
	runner bool
}

func (d *decoder) decodeRoot(body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(rootSchema)
	d.refs = map[*Process]*processRefs{}

	if attr := content.Attributes["socket"]; attr != nil {
		if p, ok, dd := d.evalPath(attr, "socket"); ok {
			d.cfg.Socket = p
		} else {
			diags = append(diags, dd...)
		}
	}
	if attr := content.Attributes["plugin_dir"]; attr != nil {
		s, ok, dd := evalString(attr.Expr, d.ctx, "plugin_dir")
		diags = append(diags, dd...)
		if ok {
			if s == "" {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid plugin_dir", "The plugin folder must not be empty; remove the argument to leave it unset."))
			} else {
				d.cfg.PluginDir = resolvePath(d.cfg.Dir, s)
			}
		}
	}

	for _, block := range content.Blocks {
		switch block.Type {
		case "process":
			p, dd := d.decodeGroup(block)
			diags = append(diags, dd...)
			d.cfg.Processes = append(d.cfg.Processes, p)
		case "runner", "sink":
			pb := &PluginBlock{Kind: block.Labels[0], Name: block.Labels[1], Body: block.Body, DeclRange: block.DefRange}
			diags = append(diags, checkPluginBlockLabels(block)...)
			if block.Type == "runner" {
				d.cfg.Runners = append(d.cfg.Runners, pb)
			} else {
				d.cfg.Sinks = append(d.cfg.Sinks, pb)
			}
		case "plugin":
			p, dd := d.decodePlugin(block)
			diags = append(diags, dd...)
			d.cfg.Plugins = append(d.cfg.Plugins, p)
		case "metrics":
			if d.cfg.Metrics != nil {
				diags = append(diags, errorAt(block.DefRange, "Duplicate metrics block",
					"Only one metrics block is allowed; the first is at "+d.cfg.Metrics.DeclRange.String()+"."))
				continue
			}
			m, dd := d.decodeMetrics(block)
			diags = append(diags, dd...)
			d.cfg.Metrics = m
		}
	}
	return diags
}

func (d *decoder) decodeProcess(block *hcl.Block) (*Process, hcl.Diagnostics) {
	p := &Process{
		Name:        block.Labels[0],
		Dir:         d.cfg.Dir,
		LogLines:    DefaultLogLines,
		Runner:      Ref{Kind: DefaultRunner},
		RunnerRange: block.DefRange,
		Stop:        Stop{Signal: unix.SignalName(policy.DefaultStopSignal), Timeout: policy.DefaultStopTimeout},
		Restart: Restart{
			Policy:       policy.DefaultRestartPolicy,
			Backoff:      policy.DefaultBackoff,
			MaxBackoff:   policy.DefaultMaxBackoff,
			ResetAfter:   policy.DefaultResetAfter,
			Window:       policy.DefaultWindow,
			MaxRestarts:  policy.DefaultMaxRestarts,
			SuccessCodes: policy.DefaultSuccessCodes(),
		},
		DeclRange: block.DefRange,
	}
	refs := &processRefs{runner: true}
	d.refs[p] = refs

	diags := checkProcessName(block)
	content, remain, dd := block.Body.PartialContent(processSchema)
	diags = append(diags, dd...)

	if attr := content.Attributes["command"]; attr != nil {
		p.CommandRange = attr.Expr.Range()
		cmd, ok, dd := evalCommand(attr.Expr, d.ctx)
		hintInterpolatedVariables(dd, attr.Expr, d.src)
		diags = append(diags, dd...)
		if ok {
			if len(cmd) == 0 {
				diags = append(diags, errorAt(attr.Expr.Range(), "Empty command",
					"The command must name at least the program to run; remove the argument to use the runner's default command."))
			} else {
				p.Command = cmd
			}
		}
	}
	if attr := content.Attributes["env"]; attr != nil {
		env, ok, dd := evalStringMap(attr.Expr, d.ctx, "env")
		hintInterpolatedVariables(dd, attr.Expr, d.src)
		diags = append(diags, dd...)
		if ok {
			diags = append(diags, checkEnvKeys(env, attr.Expr.Range())...)
			p.Env = env
		}
	}
	if attr := content.Attributes["env_file"]; attr != nil {
		p.EnvFileRange = attr.Expr.Range()
		if s, ok, dd := d.evalPath(attr, "env_file"); ok {
			p.EnvFile = s
		} else {
			diags = append(diags, dd...)
		}
	}
	if attr := content.Attributes["dir"]; attr != nil {
		p.DirRange = attr.Expr.Range()
		if raw, ok, _ := evalString(attr.Expr, d.ctx, "dir"); ok {
			p.DirRaw = raw
		}
		if s, ok, dd := d.evalPath(attr, "dir"); ok {
			p.Dir = s
		} else {
			diags = append(diags, dd...)
		}
	}
	if attr := content.Attributes["runner"]; attr != nil {
		p.RunnerRange = attr.Expr.Range()
		s, ok, dd := evalString(attr.Expr, d.ctx, "runner")
		diags = append(diags, dd...)
		if ok {
			ref, err := ParseRef(s)
			if err != nil {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid runner reference",
					fmt.Sprintf("The runner must be \"KIND\" or \"KIND.NAME\": %s.", err)))
				refs.runner = false
			} else {
				p.Runner = ref
			}
		} else {
			refs.runner = false
		}
	}
	if attr := content.Attributes["sinks"]; attr != nil {
		diags = append(diags, d.decodeSinks(p, attr)...)
	}

	if attr := content.Attributes["log_lines"]; attr != nil {
		n, ok, dd := evalInt(attr.Expr, d.ctx, "log_lines")
		diags = append(diags, dd...)
		if ok && n < 1 {
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid log_lines",
				fmt.Sprintf("log_lines is the number of lines kept for prox logs; it must be at least 1, not %d.", n)))
		} else if ok {
			p.LogLines = n
		}
	}
	if attr := content.Attributes["depends_on"]; attr != nil {
		diags = append(diags, d.decodeDependsAttr(p, attr)...)
	}
	seen := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if b.Type == "depends_on" {
			diags = append(diags, d.decodeDependsBlock(p, b)...)
			continue
		}
		if first := seen[b.Type]; first != nil {
			diags = append(diags, duplicateBlock(b, first))
			continue
		}
		seen[b.Type] = b
		switch b.Type {
		case "stop":
			diags = append(diags, d.decodeStop(b, &p.Stop)...)
		case "restart":
			diags = append(diags, d.decodeRestart(b, &p.Restart)...)
		case "health":
			h, dd := d.decodeHealth(b)
			diags = append(diags, dd...)
			p.Health = h
		}
	}

	// The remaining body may hold one block named after the runner kind;
	// anything else is unsupported. When the runner reference is invalid
	// the allowed block is unknown, so the rest is not checked.
	if refs.runner {
		rc, rest, dd := remain.PartialContent(&hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: p.Runner.Kind}}})
		diags = append(diags, dd...)
		for i, b := range rc.Blocks {
			if i > 0 {
				diags = append(diags, duplicateBlock(b, rc.Blocks[0]))
				continue
			}
			p.RunnerBody = b.Body
			p.RunnerBodyRange = b.DefRange
		}
		_, dd = rest.Content(&hcl.BodySchema{})
		diags = append(diags, d.addSuggestions(dd, p.Runner.Kind)...)
	}
	return p, diags
}

// addSuggestions completes the "Unsupported ..." diagnostics reported for
// the leftover of a process body with a "Did you mean" hint, as HCL does
// for the arguments and blocks it knows about.
func (d *decoder) addSuggestions(diags hcl.Diagnostics, runnerKind string) hcl.Diagnostics {
	for _, diag := range diags {
		var candidates []string
		switch diag.Summary {
		case "Unsupported argument":
			for _, a := range processSchema.Attributes {
				candidates = append(candidates, a.Name)
			}
		case "Unsupported block type":
			candidates = []string{"stop", "restart", "health", "depends_on", runnerKind}
		default:
			continue
		}
		rng := diag.Subject
		if rng == nil || rng.Start.Byte < 0 || rng.End.Byte > len(d.src) || rng.Start.Byte >= rng.End.Byte {
			continue
		}
		if s := Suggest(string(d.src[rng.Start.Byte:rng.End.Byte]), candidates); s != "" {
			diag.Detail += fmt.Sprintf(" Did you mean %q?", s)
		} else if diag.Summary == "Unsupported block type" {
			diag.Detail += fmt.Sprintf(" A process block may only contain stop, restart, health, depends_on and one block named after its runner kind (%q).", runnerKind)
		}
	}
	return diags
}

// evalPath evaluates a non-empty path attribute and makes it absolute.
func (d *decoder) evalPath(attr *hcl.Attribute, what string) (string, bool, hcl.Diagnostics) {
	s, ok, diags := evalString(attr.Expr, d.ctx, what)
	if !ok {
		return "", false, diags
	}
	if s == "" {
		return "", false, append(diags, errorAt(attr.Expr.Range(), "Invalid "+what,
			fmt.Sprintf("The value of %s must not be empty.", what)))
	}
	return resolvePath(d.cfg.Dir, s), true, diags
}

// decodeSinks fills p.Sinks and p.SinkRanges with the valid references of
// the sinks attribute.
func (d *decoder) decodeSinks(p *Process, attr *hcl.Attribute) hcl.Diagnostics {
	var diags hcl.Diagnostics
	add := func(s string, rng hcl.Range) {
		ref, err := ParseRef(s)
		if err == nil && ref.Name == "" {
			err = fmt.Errorf("%q has no NAME part", s)
		}
		if err != nil {
			diags = append(diags, errorAt(rng, "Invalid sink reference",
				fmt.Sprintf("Each sink must be \"KIND.NAME\" of a sink block: %s.", err)))
			return
		}
		p.Sinks = append(p.Sinks, ref)
		p.SinkRanges = append(p.SinkRanges, rng)
	}
	if elems := tupleElements(attr.Expr); elems != nil {
		for _, e := range elems {
			s, ok, dd := evalString(e, d.ctx, "sink reference")
			diags = append(diags, dd...)
			if ok {
				add(s, e.Range())
			} else if !dd.HasErrors() {
				diags = append(diags, errorAt(e.Range(), "Invalid sink reference", "A sink reference must not be null."))
			}
		}
		return diags
	}
	list, ok, dd := evalStringList(attr.Expr, d.ctx, "sinks")
	diags = append(diags, dd...)
	if ok {
		for _, s := range list {
			add(s, attr.Expr.Range())
		}
	}
	return diags
}

func (d *decoder) decodeStop(block *hcl.Block, st *Stop) hcl.Diagnostics {
	content, diags := block.Body.Content(stopSchema)
	if attr := content.Attributes["signal"]; attr != nil {
		s, ok, dd := evalString(attr.Expr, d.ctx, "stop signal")
		diags = append(diags, dd...)
		if ok {
			canon, err := CanonicalSignal(s)
			if err != nil {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid stop signal",
					fmt.Sprintf("The stop signal must be a signal name such as \"SIGTERM\" or \"INT\": %s.", err)))
			} else {
				st.Signal = canon
			}
		}
	}
	if attr := content.Attributes["timeout"]; attr != nil {
		if v, ok, dd := d.duration(attr, "stop timeout", positive); ok {
			st.Timeout = v
		} else {
			diags = append(diags, dd...)
		}
	}
	return diags
}

func (d *decoder) decodeRestart(block *hcl.Block, r *Restart) hcl.Diagnostics {
	content, diags := block.Body.Content(restartSchema)
	attrs := content.Attributes
	if attr := attrs["policy"]; attr != nil {
		s, ok, dd := evalString(attr.Expr, d.ctx, "restart policy")
		diags = append(diags, dd...)
		if ok {
			if err := checkPolicy(s); err != nil {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid restart policy", "The restart policy "+err.Error()+"."))
			} else {
				r.Policy = s
			}
		}
	}
	durations := []struct {
		name  string
		dst   *time.Duration
		check durationCheck
	}{
		{"backoff", &r.Backoff, nonNegative},
		{"max_backoff", &r.MaxBackoff, positive},
		{"reset_after", &r.ResetAfter, positive},
		{"window", &r.Window, positive},
	}
	for _, dur := range durations {
		if attr := attrs[dur.name]; attr != nil {
			if v, ok, dd := d.duration(attr, "restart "+dur.name, dur.check); ok {
				*dur.dst = v
			} else {
				diags = append(diags, dd...)
			}
		}
	}
	if r.MaxBackoff < r.Backoff {
		attr := attrs["max_backoff"]
		if attr == nil {
			attr = attrs["backoff"]
		}
		diags = append(diags, errorAt(attr.Expr.Range(), "Invalid restart max_backoff",
			fmt.Sprintf("The maximum backoff (%s) must not be less than the initial backoff (%s).", r.MaxBackoff, r.Backoff)))
	}
	if attr := attrs["max_restarts"]; attr != nil {
		n, ok, dd := evalInt(attr.Expr, d.ctx, "restart max_restarts")
		diags = append(diags, dd...)
		if ok {
			if n < 0 {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid restart max_restarts",
					fmt.Sprintf("The maximum number of restarts must not be negative; got %d.", n)))
			} else {
				r.MaxRestarts = n
			}
		}
	}
	if attr := attrs["success_codes"]; attr != nil {
		codes, dd := d.decodeSuccessCodes(attr)
		diags = append(diags, dd...)
		if !dd.HasErrors() && codes != nil {
			r.SuccessCodes = codes
		}
	}
	return diags
}

// decodeSuccessCodes evaluates success_codes, checking each element.
func (d *decoder) decodeSuccessCodes(attr *hcl.Attribute) ([]int, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	codes := []int{}
	check := func(n int, rng hcl.Range) {
		if n < 0 || n > 255 {
			diags = append(diags, errorAt(rng, "Invalid restart success_codes",
				fmt.Sprintf("An exit code must be between 0 and 255; got %d.", n)))
			return
		}
		codes = append(codes, n)
	}
	if elems := tupleElements(attr.Expr); elems != nil {
		for _, e := range elems {
			n, ok, dd := evalInt(e, d.ctx, "exit code")
			diags = append(diags, dd...)
			if ok {
				check(n, e.Range())
			} else if !dd.HasErrors() {
				diags = append(diags, errorAt(e.Range(), "Invalid restart success_codes", "An exit code must not be null."))
			}
		}
		return codes, diags
	}
	list, ok, dd := evalValue(attr.Expr, d.ctx, cty.List(cty.Number), "restart success_codes")
	diags = append(diags, dd...)
	if !ok {
		return nil, diags
	}
	for it := list.ElementIterator(); it.Next(); {
		_, v := it.Element()
		n, whole := 0, false
		if !v.IsNull() {
			n, whole = toInt(v)
		}
		if !whole {
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid restart success_codes", "Each exit code must be a whole number."))
			continue
		}
		check(n, attr.Expr.Range())
	}
	return codes, diags
}

// duration evaluates a duration attribute and applies check.
func (d *decoder) duration(attr *hcl.Attribute, what string, check durationCheck) (time.Duration, bool, hcl.Diagnostics) {
	v, ok, diags := evalDuration(attr.Expr, d.ctx, what)
	if !ok {
		return 0, false, diags
	}
	if err := check(v); err != nil {
		return 0, false, append(diags, errorAt(attr.Expr.Range(), "Invalid "+what,
			fmt.Sprintf("The %s %s; got %s.", what, err, v)))
	}
	return v, true, diags
}

func (d *decoder) decodePlugin(block *hcl.Block) (*Plugin, hcl.Diagnostics) {
	p := &Plugin{Name: block.Labels[0], DeclRange: block.DefRange}
	diags := checkPluginName(block)
	content, dd := block.Body.Content(pluginSchema)
	diags = append(diags, dd...)
	if attr := content.Attributes["path"]; attr != nil {
		p.PathRange = attr.Expr.Range()
		if s, ok, dd := d.evalPath(attr, "path"); ok {
			p.Path = s
		} else {
			diags = append(diags, dd...)
		}
	}
	if attr := content.Attributes["sha256"]; attr != nil {
		p.SHA256Range = attr.Expr.Range()
		s, ok, dd := evalString(attr.Expr, d.ctx, "sha256")
		diags = append(diags, dd...)
		if ok {
			if err := checkSHA256(s); err != nil {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid sha256", "The sha256 "+err.Error()+"."))
			} else {
				p.SHA256 = strings.ToLower(s)
			}
		}
	}
	if attr := content.Attributes["override"]; attr != nil {
		var v cty.Value
		v, dd = attr.Expr.Value(d.ctx)
		diags = append(diags, dd...)
		if !dd.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				diags = append(diags, errorAt(attr.Expr.Range(), "Invalid override", "override must be true or false."))
			} else {
				p.Override = v.True()
			}
		}
	}
	return p, diags
}

// tupleElements returns the element expressions of a literal list, or nil
// when expr is not one.
func tupleElements(expr hcl.Expression) []hcl.Expression {
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil
	}
	out := make([]hcl.Expression, len(tuple.Exprs))
	for i, e := range tuple.Exprs {
		out[i] = e
	}
	return out // never nil: an empty list gives an empty slice
}

func duplicateBlock(dup, first *hcl.Block) *hcl.Diagnostic {
	return errorAt(dup.DefRange, fmt.Sprintf("Duplicate %s block", dup.Type),
		fmt.Sprintf("Only one %s block is allowed here; another was declared at %s.", dup.Type, posString(first.DefRange)))
}

// posString formats the start of rng as "file:line,column".
func posString(rng hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", rng.Filename, rng.Start.Line, rng.Start.Column)
}

// sortDiagnostics orders diags by file and position, those without a
// subject first, keeping the order of equal positions.
func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
