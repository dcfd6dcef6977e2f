package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// ReloadResult is what a reload found, and did unless it was a dry run.
type ReloadResult struct {
	// Plan is the change of the processes.
	Plan supervisor.Plan
	// Runners and Sinks name the plugins (by "kind" or "kind.name") the
	// reload launches again because their block changed, or launches
	// for the first time, and those it shuts down.
	Runners, Sinks PluginChanges
	// Applied is false for a dry run.
	Applied bool
}

// PluginChanges are the plugins of one kind a reload launches and shuts
// down.
type PluginChanges struct {
	Launched, Relaunched, Closed []string
}

// ConfigError is a reload refused because the configuration has errors:
// nothing changed. Diagnostics are rendered with Config's files.
type ConfigError struct {
	Config      *config.Config
	Diagnostics hcl.Diagnostics
}

// Error implements error: the diagnostics as `prox validate` prints them,
// without colours.
func (e *ConfigError) Error() string {
	var b bytes.Buffer
	var files map[string]*hcl.File
	if e.Config != nil {
		files = e.Config.Files
	}
	if err := config.WriteDiagnostics(&b, files, e.Diagnostics, 100, false); err != nil {
		return e.Diagnostics.Error()
	}
	return strings.TrimRight(b.String(), "\n")
}

// ErrNotRunning is returned by Reload before Run has started the
// processes, or once it has stopped them.
var ErrNotRunning = errors.New("prox is not running its processes")

// plugged is a plugin a running configuration uses, configured with
// values (and, for a sink, prox's own options).
type plugged struct {
	inst   *loader.Instance
	runner *loader.RelaunchingRunner // runners only
	values json.RawMessage
	opts   logs.SinkOptions // sinks only
}

// running is what the agent runs: the configuration last applied, and
// its plugins by "kind" or "kind.name".
type running struct {
	cfg            *config.Config
	runners, sinks map[string]*plugged
}

// reloader is the agent's reload state, set by Run.
type reloader struct {
	mu  sync.Mutex // one reload at a time
	sup *supervisor.Manager
	cur *running
}

// setRunning records what Run runs and gives every spec its fingerprint
// (before the supervisor takes them).
func (a *Agent) setRunning(specs []supervisor.ProcessSpec) {
	st := a.st
	cur := &running{cfg: st.cfg, runners: map[string]*plugged{}, sinks: map[string]*plugged{}}
	evalCtx := &hcl.EvalContext{Functions: config.FunctionsWith(st.cfg.Dir, st.cfg.Dotenv)}
	for key, inst := range st.runners {
		var body hcl.Body
		rng := hcl.Range{}
		if ref, err := config.ParseRef(key); err == nil {
			if b := st.cfg.Runner(ref); b != nil {
				body, rng = b.Body, b.DeclRange
			}
		}
		values, _ := loader.Decode(body, inst.ConfigSchema, evalCtx, rng, "runner")
		cur.runners[key] = &plugged{inst: inst, runner: st.relaunching[key], values: values}
	}
	for key, inst := range st.sinks {
		ref, _ := config.ParseRef(key)
		b := st.cfg.Sink(ref)
		if b == nil {
			continue
		}
		_, body, _ := sinkHostOptions(b, evalCtx)
		values, _ := loader.Decode(body, inst.ConfigSchema, evalCtx, b.DeclRange, "sink")
		cur.sinks[key] = &plugged{inst: inst, values: values, opts: st.sinkOpts[key]}
	}
	for i := range specs {
		specs[i].Fingerprint = fingerprint(specs[i], processNamed(st.cfg, specs[i].Name), cur)
	}
	a.reload.mu.Lock()
	a.reload.cur = cur
	a.reload.mu.Unlock()
}

// setSupervisor makes the running supervisor the one Reload changes; nil
// once it stops.
func (a *Agent) setSupervisor(sup *supervisor.Manager) {
	a.reload.mu.Lock()
	a.reload.sup = sup
	a.reload.mu.Unlock()
}

// Reload reads and validates the configuration again and applies the
// difference (ReloadWith without a dry run): what prox reload and prox up
// -watch do, and what SIGHUP to a detached prox is meant to call. Its
// errors are ReloadWith's.
func (a *Agent) Reload(ctx context.Context) error {
	_, err := a.ReloadWith(ctx, ReloadOptions{})
	return err
}

// ReloadOptions are the options of ReloadWith.
type ReloadOptions struct {
	// DryRun plans the reload and applies nothing.
	DryRun bool
	// Change, when set, changes the configuration read from the file
	// before it is applied (a runtime change that is not in the file,
	// such as another count of instances); its diagnostics are the
	// reload's.
	Change func(*config.Config) (*config.Config, hcl.Diagnostics)
	// Running starts from the configuration that runs instead of reading
	// the file: only Change changes anything (prox scale).
	Running bool
}

// ReloadWith reads and validates the configuration again and applies the
// difference to the running processes: new ones start, removed ones stop,
// changed ones (any attribute, their runner's or sinks' blocks, their
// env_file's content) restart in dependency order, the others keep
// running. A changed runner or sink block relaunches that plugin; a sink
// is drained first. With errors in the configuration nothing changes and
// the error is a *ConfigError; a plan that removes a process another
// depends on is refused (*supervisor.DependencyError), and so is a reload
// while prox stops (supervisor.ErrStopping). With DryRun it only plans:
// it launches the plugins of new or changed blocks to check them, and
// shuts them down again.
func (a *Agent) ReloadWith(ctx context.Context, opts ReloadOptions) (ReloadResult, error) {
	dryRun := opts.DryRun
	a.reload.mu.Lock()
	defer a.reload.mu.Unlock()
	sup, cur := a.reload.sup, a.reload.cur
	if sup == nil || cur == nil {
		return ReloadResult{}, ErrNotRunning
	}
	switch sup.Status().State {
	case "running":
	case "new":
		return ReloadResult{}, ErrNotRunning
	default:
		return ReloadResult{}, fmt.Errorf("reload refused: %w", supervisor.ErrStopping)
	}
	var cfg *config.Config
	var diags hcl.Diagnostics
	if opts.Running {
		cfg = cur.cfg
	} else {
		cfg, diags = LoadConfigWith(a.opts.ConfigPath, config.LoadOptions{EnvFile: a.opts.EnvFile, Formation: a.opts.Formation}, a.logger)
	}
	if diags.HasErrors() {
		ce := &ConfigError{Config: cfg, Diagnostics: diags}
		if de := removesADependency(sup, cfg); de != nil {
			// The configuration says "no such process"; the reload says
			// which running process it would remove, and for whom.
			return ReloadResult{}, fmt.Errorf("reload refused: %w\n%s", de, ce.Error())
		}
		return ReloadResult{}, ce
	}
	if opts.Change != nil {
		var d hcl.Diagnostics
		if cfg, d = opts.Change(cfg); d.HasErrors() {
			return ReloadResult{}, &ConfigError{Config: cfg, Diagnostics: d}
		}
	}
	if d := unreloadable(cur.cfg, cfg); d != nil {
		return ReloadResult{}, &ConfigError{Config: cfg, Diagnostics: hcl.Diagnostics{d}}
	}
	next, res, specs, diags := a.prepare(ctx, cur, cfg, dryRun)
	// fresh are the plugins this reload launched: shut down if it does
	// not go on.
	closeFresh := func() {
		for key, p := range next.runners {
			if cur.runners[key] != p {
				_ = p.inst.Close(context.Background())
			}
		}
		for key, p := range next.sinks {
			if cur.sinks[key] != p {
				_ = p.inst.Close(context.Background())
			}
		}
	}
	if diags.HasErrors() {
		closeFresh()
		return ReloadResult{}, &ConfigError{Config: cfg, Diagnostics: diags}
	}
	plan, err := supervisor.Diff(sup.Specs(), specs)
	if err != nil {
		closeFresh()
		return ReloadResult{}, fmt.Errorf("reload refused: %w", err)
	}
	res.Plan = plan
	if dryRun {
		closeFresh()
		return res, nil
	}

	// From here on the plan is carried out to its end: a caller that goes
	// away (prox reload interrupted) must not leave it half done, nor
	// turn its graceful stops into kills.
	ctx = context.WithoutCancel(ctx)
	a.logger.Info("reloading the configuration", "plan", plan.String())
	logm := a.pipe.logs
	// Sinks first: a new one is there for its processes' first lines, a
	// changed one is drained, then takes its new plugin; every kept sink
	// learns which processes now feed it.
	// A process the reload removes still feeds its sinks until it has
	// stopped: its last lines and its events reach them.
	feeds := sinkFeeds(cfg)
	oldFeeds := sinkFeeds(cur.cfg)
	for key := range next.sinks {
		for _, name := range plan.Remove {
			if slices.Contains(oldFeeds[key], name) {
				feeds[key] = append(feeds[key], name)
			}
		}
	}
	for key, p := range next.sinks {
		old := cur.sinks[key]
		switch {
		case old == nil:
			if err := logm.AttachSink(key, feeds[key], loader.NewSinkTarget(a.st.loader, p.inst), p.opts); err != nil {
				closeFresh()
				return res, fmt.Errorf("reload: sink %s: %w", key, err)
			}
		case old != p:
			if err := logm.ReplaceSink(ctx, key, feeds[key], loader.NewSinkTarget(a.st.loader, p.inst), p.opts); err != nil {
				a.logger.Warn("reload: replacing a sink", "sink", key, "error", err)
			}
			_ = old.inst.Close(context.Background())
		default:
			logm.SetSinkProcesses(key, feeds[key])
		}
	}
	for _, proc := range processesOf(cfg) {
		logm.SetBufferSize(proc.Name, proc.LogLines)
	}
	err = sup.Apply(ctx, plan)
	// What the new configuration no longer uses goes: removed sinks
	// drained, then their plugins and the unused runner plugins shut down.
	for key, old := range cur.sinks {
		if _, ok := next.sinks[key]; !ok {
			if derr := logm.DetachSink(ctx, key); derr != nil {
				a.logger.Warn("reload: detaching a sink", "sink", key, "error", derr)
			}
			_ = old.inst.Close(context.Background())
		}
	}
	for key, old := range cur.runners {
		if next.runners[key] != old {
			_ = old.runner.Instance().Close(context.Background())
		}
	}
	a.reload.cur = next
	res.Applied = true
	if err != nil {
		return res, err
	}
	a.logger.Info("configuration reloaded", "plan", plan.String())
	return res, nil
}

// removesADependency is the refusal of a configuration whose processes
// depend on a process that runs now and that it removes; nil if none
// does.
func removesADependency(sup *supervisor.Manager, cfg *config.Config) *supervisor.DependencyError {
	if cfg == nil {
		return nil
	}
	running := map[string]bool{}
	for _, s := range sup.Specs() {
		running[s.Name], running[s.Group] = true, true
	}
	for _, p := range cfg.Processes {
		for _, d := range p.DependsOn {
			if running[d.Name] && cfg.Process(d.Name) == nil {
				return &supervisor.DependencyError{Removed: d.Name, Dependent: p.Name}
			}
		}
	}
	return nil
}

// Scale changes the count of instances of the named processes at
// runtime (prox scale): a reload of the running configuration with those
// counts (config.Config.WithReplicas), planned and applied as ReloadWith
// does: instances added start, instances removed stop, the others keep
// running. The next reload of the file brings its counts back. An
// unknown name or a count below 1 is a *ConfigError.
func (a *Agent) Scale(ctx context.Context, counts map[string]int, dryRun bool) (ReloadResult, error) {
	names := slices.Sorted(maps.Keys(counts))
	return a.ReloadWith(ctx, ReloadOptions{DryRun: dryRun, Running: true, Change: func(cfg *config.Config) (*config.Config, hcl.Diagnostics) {
		var diags hcl.Diagnostics
		for _, name := range names {
			next, d := cfg.WithReplicas(name, counts[name])
			diags = append(diags, d...)
			if d.HasErrors() {
				continue
			}
			cfg = next
		}
		return cfg, diags
	}})
}

// unreloadable is a diagnostic when cfg changes what a running prox
// cannot take again: the plugin blocks, plugin_dir, the socket.
func unreloadable(old, cfg *config.Config) *hcl.Diagnostic {
	type pluginKey struct {
		Name, Path, SHA256 string
		Override           bool
	}
	keys := func(c *config.Config) []pluginKey {
		var out []pluginKey
		for _, p := range c.Plugins {
			out = append(out, pluginKey{p.Name, p.Path, p.SHA256, p.Override})
		}
		return out
	}
	what := ""
	switch {
	case !slices.Equal(keys(old), keys(cfg)):
		what = "plugin blocks"
	case old.PluginDir != cfg.PluginDir:
		what = "plugin_dir"
	case old.Socket != cfg.Socket:
		what = "socket"
	default:
		return nil
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Cannot reload a change of " + what,
		Detail:   fmt.Sprintf("A running prox keeps the %s it started with: restart prox to change them.", what),
		Subject:  &hcl.Range{Filename: cfg.Path, Start: hcl.InitialPos, End: hcl.InitialPos},
	}
}

// prepare builds what cfg runs on top of cur: the plugins of unchanged
// blocks are cur's, those of new or changed blocks are launched and
// configured (checked only, with checkOnly); and the specs of cfg's
// processes, with their fingerprints.
func (a *Agent) prepare(ctx context.Context, cur *running, cfg *config.Config, checkOnly bool) (*running, ReloadResult, []supervisor.ProcessSpec, hcl.Diagnostics) {
	next := &running{cfg: cfg, runners: map[string]*plugged{}, sinks: map[string]*plugged{}}
	var res ReloadResult
	var diags hcl.Diagnostics
	l := a.st.loader
	evalCtx := &hcl.EvalContext{Functions: config.FunctionsWith(cfg.Dir, cfg.Dotenv)}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	configure := func(inst *loader.Instance, values json.RawMessage) error {
		if checkOnly {
			return inst.Check(ctx, values)
		}
		return inst.Configure(ctx, values)
	}
	// use returns the plugin of a block: cur's when its values are the
	// same, else a new one.
	use := func(kind sdk.Kind, key string, pluginName string, body hcl.Body, rng hcl.Range, old *plugged, opts logs.SinkOptions) (*plugged, hcl.Diagnostics) {
		what := fmt.Sprintf("%s %q block", kind, key)
		if old != nil {
			values, d := loader.Decode(body, old.inst.ConfigSchema, evalCtx, rng, what)
			if d.HasErrors() {
				return nil, d
			}
			if bytes.Equal(values, old.values) && opts == old.opts {
				return old, nil
			}
		}
		inst, err := l.Launch(ctx, kind, pluginName)
		if err != nil {
			return nil, hcl.Diagnostics{pluginError(cfg, rng, string(kind), key, err)}
		}
		values, d := loader.Decode(body, inst.ConfigSchema, evalCtx, rng, what)
		if d.HasErrors() {
			_ = inst.Close(context.Background())
			return nil, d
		}
		if err := configure(inst, values); err != nil {
			_ = inst.Close(context.Background())
			return nil, configureDiags(body, rng, string(kind), key, err)
		}
		p := &plugged{inst: inst, values: values, opts: opts}
		if kind == sdk.KindRunner {
			p.runner = loader.NewRelaunchingRunner(l, inst)
		}
		changes := &res.Runners
		if kind == sdk.KindSink {
			changes = &res.Sinks
		}
		if old != nil {
			changes.Relaunched = append(changes.Relaunched, key)
		} else {
			changes.Launched = append(changes.Launched, key)
		}
		return p, nil
	}

	used := sinkFeeds(cfg)
	for _, b := range cfg.Sinks {
		key := b.Ref().String()
		if _, ok := used[key]; !ok {
			continue
		}
		opts, body, d := sinkHostOptions(b, evalCtx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		p, d := use(sdk.KindSink, key, b.Kind, body, b.DeclRange, cur.sinks[key], opts)
		diags = append(diags, d...)
		if p != nil {
			next.sinks[key] = p
		}
	}
	failed := map[string]bool{}
	var specs []supervisor.ProcessSpec
	for _, proc := range processesOf(cfg) {
		key := proc.Runner.String()
		p, ok := next.runners[key]
		if !ok {
			if failed[key] {
				continue
			}
			var body hcl.Body
			rng := proc.RunnerRange
			if b := cfg.Runner(proc.Runner); b != nil {
				body, rng = b.Body, b.DeclRange
			}
			var d hcl.Diagnostics
			p, d = use(sdk.KindRunner, key, proc.Runner.Kind, body, rng, cur.runners[key], logs.SinkOptions{})
			diags = append(diags, d...)
			if p == nil {
				failed[key] = true
				continue
			}
			next.runners[key] = p
		}
		spec, d := processSpec(cfg, proc, p.inst, p.runner, evalCtx)
		// The instances of a block share its problems: each said once.
		diags = config.AppendNew(diags, d)
		if !d.HasErrors() {
			spec.Fingerprint = fingerprint(spec, proc, next)
			specs = append(specs, spec)
		}
	}
	for key := range cur.runners {
		if _, ok := next.runners[key]; !ok {
			res.Runners.Closed = append(res.Runners.Closed, key)
		}
	}
	for key := range cur.sinks {
		if _, ok := next.sinks[key]; !ok {
			res.Sinks.Closed = append(res.Sinks.Closed, key)
		}
	}
	for _, c := range []*PluginChanges{&res.Runners, &res.Sinks} {
		slices.Sort(c.Launched)
		slices.Sort(c.Relaunched)
		slices.Sort(c.Closed)
	}
	return next, res, specs, diags
}

// processesOf lists what the supervisor runs of cfg, one spec each, in
// order: the instances of its processes.
func processesOf(cfg *config.Config) []*config.Process { return cfg.Instances() }

// processNamed is the process of processesOf(cfg) named name, nil if
// none is.
func processNamed(cfg *config.Config, name string) *config.Process {
	for _, p := range processesOf(cfg) {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// sinkFeeds maps every sink a process of cfg names to those processes.
func sinkFeeds(cfg *config.Config) map[string][]string {
	out := map[string][]string{}
	for _, p := range processesOf(cfg) {
		for _, ref := range p.Sinks {
			out[ref.String()] = append(out[ref.String()], p.Name)
		}
	}
	return out
}

// fingerprint sums up everything a process is made of: its spec (its
// command, its environment with its env_file's content, its settings),
// prox's own attributes of it, its runner's block and its sinks' blocks.
// A reload restarts a process whose fingerprint changed.
func fingerprint(spec supervisor.ProcessSpec, p *config.Process, r *running) string {
	env := slices.Clone(spec.Config.Env)
	slices.Sort(env)
	type sinkPrint struct {
		Ref    string
		Values json.RawMessage
		Opts   logs.SinkOptions
	}
	v := struct {
		Name, Runner  string
		Command, Env  []string
		Dir           string
		Settings      json.RawMessage
		StopSignal    int
		StopTimeout   time.Duration
		Restart       supervisor.RestartPolicy
		DependsOn     []supervisor.Dependency
		Health        string
		LogLines      int
		RunnerValues  json.RawMessage
		Sinks         []sinkPrint
		HasCommand    bool
		ConfigProcess bool
	}{
		Name: spec.Name, Runner: spec.RunnerName, Command: spec.Config.Command, Env: env, Dir: spec.Config.Dir,
		StopSignal: int(spec.StopSignal), StopTimeout: spec.StopTimeout, Restart: spec.Restart,
		DependsOn: spec.DependsOn, Health: healthPrint(spec.Health), HasCommand: spec.Config.Command != nil,
	}
	if spec.Config.Settings != nil {
		v.Settings = spec.Config.Settings.Values
	}
	if rp := r.runners[spec.RunnerName]; rp != nil {
		v.RunnerValues = rp.values
	}
	if p != nil {
		// Dependencies as written: another count of instances of a
		// dependency changes no dependent.
		v.DependsOn = nil
		for _, d := range p.DependsOn {
			v.DependsOn = append(v.DependsOn, supervisor.Dependency{Name: d.Name, Condition: d.Condition})
		}
		v.ConfigProcess, v.LogLines = true, p.LogLines
		for _, ref := range p.Sinks {
			sp := sinkPrint{Ref: ref.String()}
			if s := r.sinks[ref.String()]; s != nil {
				sp.Values, sp.Opts = s.values, s.opts
			}
			v.Sinks = append(v.Sinks, sp)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Every field marshals; should one ever not, the process counts
		// as changed at every reload rather than never.
		return fmt.Sprintf("unprintable %d", time.Now().UnixNano())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// healthPrint describes a health check's settings and check.
func healthPrint(h *supervisor.HealthSpec) string {
	if h == nil {
		return ""
	}
	check := fmt.Sprintf("%T", h.Check)
	switch c := h.Check.(type) {
	case *supervisor.HTTPCheck:
		check += fmt.Sprintf(" %q %d", c.URL, c.Status)
	case *supervisor.TCPCheck:
		check += fmt.Sprintf(" %q", c.Address)
	case *supervisor.LogCheck:
		check += fmt.Sprintf(" %q", c.Match.String())
	case *supervisor.LocalExecCheck:
		env := slices.Clone(c.Env)
		slices.Sort(env)
		check += fmt.Sprintf(" %q %q %q", c.Command, env, c.Dir)
	case *supervisor.RunnerExecCheck:
		check += fmt.Sprintf(" %q", c.Command)
	default:
		check += fmt.Sprintf(" %+v", c)
	}
	return fmt.Sprintf("%s %s %s %s %d %d %t", check, h.Interval, h.Timeout, h.InitialDelay, h.SuccessThreshold, h.FailureThreshold, h.Restart)
}

// reloadRoute is the agent as the control API's Reloader: its results
// and refusals in the API's terms.
type reloadRoute struct{ a *Agent }

// Reload implements control.Reloader.
func (r reloadRoute) Reload(ctx context.Context, dryRun bool) (control.ReloadResult, error) {
	res, err := r.a.ReloadWith(ctx, ReloadOptions{DryRun: dryRun})
	return apiResult(res, err)
}

// Scale implements control.Reloader.
func (r reloadRoute) Scale(ctx context.Context, counts map[string]int, dryRun bool) (control.ReloadResult, error) {
	res, err := r.a.Scale(ctx, counts, dryRun)
	return apiResult(res, err)
}

// apiResult is a reload's outcome in the API's terms.
func apiResult(res ReloadResult, err error) (control.ReloadResult, error) {
	var ce *ConfigError
	var de *supervisor.DependencyError
	switch {
	case errors.As(err, &ce):
		return control.ReloadResult{}, &control.APIError{Status: http.StatusUnprocessableEntity, Code: control.CodeInvalidConfig, Message: ce.Error()}
	case errors.As(err, &de), errors.Is(err, supervisor.ErrStopping), errors.Is(err, ErrNotRunning):
		return control.ReloadResult{}, &control.APIError{Status: http.StatusConflict, Code: control.CodeRefused, Message: err.Error()}
	case err != nil && !res.Applied:
		return control.ReloadResult{}, err
	}
	out := control.ReloadResult{
		Applied: res.Applied, Add: specNames(res.Plan.Add), Restart: specNames(res.Plan.Restart),
		Remove: orEmpty(res.Plan.Remove), Unchanged: orEmpty(res.Plan.Unchanged),
		Runners: pluginChanges(res.Runners), Sinks: pluginChanges(res.Sinks),
	}
	if err != nil {
		out.StartError = err.Error()
	}
	return out, nil
}

// pluginChanges is c in the API's terms, with [] for none.
func pluginChanges(c PluginChanges) control.PluginChanges {
	return control.PluginChanges{Launched: orEmpty(c.Launched), Relaunched: orEmpty(c.Relaunched), Closed: orEmpty(c.Closed)}
}

// orEmpty is s, or an empty slice for nil (JSON [] rather than null).
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// specNames are the names of specs.
func specNames(specs []supervisor.ProcessSpec) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}
