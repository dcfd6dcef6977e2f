package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/prox-dev/prox/internal/pluginhost"
	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/plugins/builtin"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/policy"
)

// stack is a loaded configuration with its plugins launched and
// configured: everything `prox up` needs to start the processes.
type stack struct {
	cfg     *config.Config
	loader  *loader.Loader
	runners map[string]*loader.Instance // by "kind" or "kind.name"
	// relaunching wraps each runner instance: a runner plugin that died
	// is relaunched at the next start of one of its processes.
	relaunching map[string]*loader.RelaunchingRunner
	sinks       map[string]*loader.Instance // by "kind.name"
	// sinkOpts are the host's settings of each sink (overflow, queue).
	sinkOpts map[string]logs.SinkOptions
	specs    []supervisor.ProcessSpec
}

// close shuts down every plugin of the stack.
func (s *stack) close(ctx context.Context) error {
	if s == nil || s.loader == nil {
		return nil
	}
	return s.loader.Close(ctx)
}

// closeRunners shuts down the runner plugins of the stack (close does the
// rest): once every process has ended, while the sinks still drain. A
// runner relaunched afterwards would still be shut down by close.
func (s *stack) closeRunners(ctx context.Context) error {
	if s == nil || s.loader == nil {
		return nil
	}
	return s.loader.CloseKind(ctx, sdk.KindRunner)
}

// checkStack loads the configuration at path, launches only the plugins it
// uses, decodes their blocks against their schemas and has them check
// their values (sdk.Config.CheckOnly: they open and connect nothing): what
// prox validate does. All problems come back as diagnostics; the returned
// stack must be closed even when there are errors, and runs nothing.
func checkStack(ctx context.Context, path, envFile string, logger hclog.Logger) (*stack, hcl.Diagnostics) {
	cfg, diags := LoadConfig(path, envFile, logger)
	return launchStack(ctx, cfg, diags, logger, true)
}

// launchStack launches the plugins cfg uses, decodes their blocks and
// configures them (only checks their values, with checkOnly), given the
// diagnostics of cfg's loading.
func launchStack(ctx context.Context, cfg *config.Config, diags hcl.Diagnostics, logger hclog.Logger, checkOnly bool) (*stack, hcl.Diagnostics) {
	st := &stack{
		cfg:         cfg,
		runners:     map[string]*loader.Instance{},
		relaunching: map[string]*loader.RelaunchingRunner{},
		sinks:       map[string]*loader.Instance{},
		sinkOpts:    map[string]logs.SinkOptions{},
	}
	if diags.HasErrors() {
		return st, diags
	}
	lock, err := loader.ReadLock(filepath.Join(cfg.Dir, loader.LockFileName))
	if err != nil {
		return st, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid lock file", Detail: err.Error()})
	}
	l, err := NewLoader(cfg, logger, lock)
	if err != nil {
		return st, append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot launch plugins", Detail: err.Error()})
	}
	st.loader = l
	evalCtx := &hcl.EvalContext{Functions: config.FunctionsWith(cfg.Dir, cfg.Dotenv)}
	configure := func(inst *loader.Instance, values json.RawMessage) error {
		if checkOnly {
			return inst.Check(ctx, values)
		}
		return inst.Configure(ctx, values)
	}
	pathDiags, missing := pluginPaths(cfg)
	diags = append(diags, pathDiags...)

	// One sink plugin instance per sink block that a process uses, one
	// runner plugin instance per runner reference ("exec" or
	// "ssh.staging"). They are launched all at once (a launch is mostly
	// waiting for a process to start and answer), then decoded and
	// configured in the config's order.
	used := map[string]bool{}
	for _, p := range cfg.Instances() {
		for _, ref := range p.Sinks {
			used[ref.String()] = true
		}
	}
	var sinkBlocks []*config.PluginBlock
	for _, b := range cfg.Sinks {
		if used[b.Ref().String()] {
			sinkBlocks = append(sinkBlocks, b)
		}
	}
	var runnerRefs []config.Ref
	seen := map[string]bool{}
	for _, p := range cfg.Instances() {
		if key := p.Runner.String(); !seen[key] {
			seen[key] = true
			runnerRefs = append(runnerRefs, p.Runner)
		}
	}
	sinkLaunches := make([]launched, len(sinkBlocks))
	runnerLaunches := make([]launched, len(runnerRefs))
	var wg sync.WaitGroup
	for i, b := range sinkBlocks {
		wg.Go(func() { sinkLaunches[i] = launch(ctx, l, sdk.KindSink, b.Ref().Kind) })
	}
	for i, ref := range runnerRefs {
		wg.Go(func() { runnerLaunches[i] = launch(ctx, l, sdk.KindRunner, ref.Kind) })
	}
	wg.Wait()

	for i, b := range sinkBlocks {
		ref := b.Ref()
		opts, body, d := sinkHostOptions(b, evalCtx)
		diags = append(diags, d...)
		inst, err := sinkLaunches[i].inst, sinkLaunches[i].err
		if err != nil {
			if !ofMissingPlugin(err, missing) {
				diags = append(diags, pluginError(cfg, b.DeclRange, "sink", ref.String(), err))
			}
			continue
		}
		values, d := loader.Decode(body, inst.ConfigSchema, evalCtx, b.DeclRange, fmt.Sprintf("sink %q %q block", ref.Kind, ref.Name))
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if err := configure(inst, values); err != nil {
			diags = append(diags, configureDiags(body, b.DeclRange, "sink", ref.String(), err)...)
			continue
		}
		st.sinks[ref.String()] = inst
		st.sinkOpts[ref.String()] = opts
	}

	// Runners, configured at their first use.
	launches := map[string]launched{}
	for i, ref := range runnerRefs {
		launches[ref.String()] = runnerLaunches[i]
	}
	failed := map[string]bool{}
	for _, p := range cfg.Instances() {
		key := p.Runner.String()
		inst, ok := st.runners[key]
		if !ok {
			if failed[key] {
				continue
			}
			inst, err = launches[key].inst, launches[key].err
			if err != nil {
				failed[key] = true
				if !ofMissingPlugin(err, missing) {
					diags = append(diags, pluginError(cfg, p.RunnerRange, "runner", key, err))
				}
				continue
			}
			var body hcl.Body
			rng := p.RunnerRange
			if b := cfg.Runner(p.Runner); b != nil {
				body, rng = b.Body, b.DeclRange
			}
			values, d := loader.Decode(body, inst.ConfigSchema, evalCtx, rng, fmt.Sprintf("runner %q block", key))
			diags = append(diags, d...)
			if d.HasErrors() {
				failed[key] = true
				continue
			}
			if err := configure(inst, values); err != nil {
				failed[key] = true
				diags = append(diags, configureDiags(body, rng, "runner", key, err)...)
				continue
			}
			st.runners[key] = inst
			st.relaunching[key] = loader.NewRelaunchingRunner(l, inst)
		}
		spec, d := processSpec(cfg, p, inst, st.relaunching[key], evalCtx)
		// The instances of a block share its problems: each said once.
		diags = config.AppendNew(diags, d)
		if !d.HasErrors() {
			st.specs = append(st.specs, spec)
		}
	}
	// The plugin blocks' "${NAME}": how to read prox's environment.
	config.HintEnvVariables(diags, cfg.Files)
	return st, diags
}

// launched is the outcome of one plugin launch.
type launched struct {
	inst *loader.Instance
	err  error
}

// launch launches the plugin of kind.name. Every instance it returns
// belongs to l, and is shut down with it, configured or not.
func launch(ctx context.Context, l *loader.Loader, kind sdk.Kind, name string) launched {
	inst, err := l.Launch(ctx, kind, name)
	return launched{inst: inst, err: err}
}

// sinkHostSchema holds the attributes of a sink block that belong to
// prox, not to the plugin: how the host queues entries for the sink, and
// how long it drains them at shutdown.
var sinkHostSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "overflow"}, {Name: "queue_size"}, {Name: "drain_timeout"},
}}

// sinkHostOptions takes prox's own attributes out of a sink block and
// returns the rest of the body, for the plugin.
func sinkHostOptions(b *config.PluginBlock, evalCtx *hcl.EvalContext) (logs.SinkOptions, hcl.Body, hcl.Diagnostics) {
	var opts logs.SinkOptions
	content, rest, diags := b.Body.PartialContent(sinkHostSchema)
	if attr := content.Attributes["overflow"]; attr != nil {
		var s string
		if d := gohcl.DecodeExpression(attr.Expr, evalCtx, &s); d.HasErrors() {
			diags = append(diags, d...)
		} else if p, err := logs.ParseOverflowPolicy(s); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid overflow policy",
				Detail: fmt.Sprintf("overflow must be \"block\" or \"drop_oldest\": %v.", err), Subject: attr.Expr.Range().Ptr()})
		} else {
			opts.Overflow = p
		}
	}
	if attr := content.Attributes["queue_size"]; attr != nil {
		var n int
		if d := gohcl.DecodeExpression(attr.Expr, evalCtx, &n); d.HasErrors() {
			diags = append(diags, d...)
		} else if n < 1 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid queue size",
				Detail: "queue_size must be at least 1.", Subject: attr.Expr.Range().Ptr()})
		} else {
			opts.QueueSize = n
		}
	}
	if attr := content.Attributes["drain_timeout"]; attr != nil {
		var text string
		if d := gohcl.DecodeExpression(attr.Expr, evalCtx, &text); d.HasErrors() {
			diags = append(diags, d...)
		} else if d, err := time.ParseDuration(text); err != nil || d <= 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid drain timeout",
				Detail: fmt.Sprintf("drain_timeout must be a positive duration such as \"10s\" or \"1m\"; %q is not.", text), Subject: attr.Expr.Range().Ptr()})
		} else {
			opts.DrainTimeout = d
		}
	}
	return opts, rest, diags
}

// DefaultConfig is the configuration file a command reads without
// -config; ProcfileName the Procfile it falls back to.
const (
	DefaultConfig = "prox.hcl"
	ProcfileName  = "Procfile"
)

// LoadConfig loads path; in a folder without prox.hcl but with a
// Procfile, it runs the Procfile as foreman would, and says so.
// envFile is -env-file: "" for the .env beside the configuration.
func LoadConfig(path, envFile string, logger hclog.Logger) (*config.Config, hcl.Diagnostics) {
	return LoadConfigWith(path, config.LoadOptions{EnvFile: envFile}, logger)
}

// LoadConfigWith is LoadConfig with options; a formation (prox up -m)
// applies to a Procfile run only, and is an error with a prox.hcl.
func LoadConfigWith(path string, opts config.LoadOptions, logger hclog.Logger) (*config.Config, hcl.Diagnostics) {
	if path == DefaultConfig {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(ProcfileName); err == nil {
				logger.Info("no " + DefaultConfig + " here: running the Procfile as foreman would (prox init writes a " + DefaultConfig + " from it)")
				return config.LoadProcfileWith(ProcfileName, opts)
			}
		}
	}
	cfg, diags := config.LoadWith(path, opts)
	if !opts.Formation.IsZero() {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A formation is for a Procfile",
			Detail: fmt.Sprintf("-m %s applies to a Procfile run (a folder with a Procfile and no %s); in %s, set replicas = N in a process block.",
				opts.Formation, DefaultConfig, path)})
	}
	return cfg, diags
}

// NewLoader returns the plugin loader of cfg: built-ins, the plugin
// blocks, plugin_dir and ~/.prox/plugins, with the lock when there is one.
func NewLoader(cfg *config.Config, logger hclog.Logger, lock *loader.Lock) (*loader.Loader, error) {
	var externals []loader.External
	for _, p := range cfg.Plugins {
		externals = append(externals, loader.External{Name: p.Name, Path: p.Path, SHA256: p.SHA256, Override: p.Override})
	}
	dirs := []string{}
	if cfg.PluginDir != "" {
		dirs = append(dirs, cfg.PluginDir)
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".prox", "plugins"))
	}
	return loader.New(loader.Options{
		Dir:        cfg.Dir,
		Lock:       lock,
		Env:        append(os.Environ(), sdk.ConfigPathEnv+"="+cfg.Path),
		Logger:     logger,
		Builtin:    builtin.Has,
		External:   externals,
		PluginDirs: dirs,
	})
}

// UsedComponents lists the runner and sink components cfg uses.
func UsedComponents(cfg *config.Config) []builtin.Component {
	seen := map[builtin.Component]bool{}
	var out []builtin.Component
	add := func(c builtin.Component) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	for _, p := range cfg.Instances() {
		add(builtin.Component{Kind: sdk.KindRunner, Name: p.Runner.Kind})
		for _, s := range p.Sinks {
			add(builtin.Component{Kind: sdk.KindSink, Name: s.Kind})
		}
	}
	return out
}

// processSpec builds the supervisor's spec of p, decoding its per-process
// runner block against the runner's schema.
func processSpec(cfg *config.Config, p *config.Process, inst *loader.Instance, runner sdk.Runner, evalCtx *hcl.EvalContext) (supervisor.ProcessSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	spec := supervisor.ProcessSpec{
		Name:        p.Name,
		Group:       p.Group,
		Runner:      runner,
		RunnerName:  p.Runner.String(),
		StopTimeout: p.Stop.Timeout,
		Restart: supervisor.RestartPolicy{
			Policy:       p.Restart.Policy,
			Backoff:      p.Restart.Backoff,
			MaxBackoff:   p.Restart.MaxBackoff,
			ResetAfter:   p.Restart.ResetAfter,
			MaxRestarts:  p.Restart.MaxRestarts,
			Window:       p.Restart.Window,
			SuccessCodes: p.Restart.SuccessCodes,
		},
	}
	if p.Restart.MaxRestarts == 0 {
		// max_restarts = 0: none allowed (zero is the default for the
		// supervisor).
		spec.Restart.MaxRestarts = policy.NoRestarts
	}
	sig, err := config.SignalNumber(p.Stop.Signal)
	if err != nil {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid stop signal", Detail: err.Error(), Subject: p.DeclRange.Ptr()})
	}
	spec.StopSignal = sig
	if inst.ProcessSchema == nil && p.RunnerBody != nil {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported block type",
			Detail:   fmt.Sprintf("The %q runner takes no per-process settings block.", p.Runner.Kind),
			Subject:  p.RunnerBodyRange.Ptr(),
		})
	}
	var settings *sdk.Config
	if inst.ProcessSchema != nil {
		what := fmt.Sprintf("%q block of process %q", p.Runner.Kind, p.Name)
		values, d := loader.Decode(p.RunnerBody, inst.ProcessSchema, config.InstanceEvalContext(evalCtx, p.Replica), p.DeclRange, what)
		diags = append(diags, d...)
		settings = &sdk.Config{APIVersion: inst.APIVersion, Values: values}
	}
	// A local process inherits prox's environment and runs in the config's
	// folder by default; a process that runs elsewhere (a container,
	// another host) gets only its own env and dir, as written.
	local := slices.Contains(inst.Info.Capabilities, sdk.CapabilityLocal)
	base, dir := []string(nil), p.DirRaw
	if local {
		base, dir = os.Environ(), p.Dir
	}
	env, err := cfg.Environ(p, base)
	if err != nil {
		at := p.EnvFileRange
		if at.Filename == "" {
			at = p.DeclRange
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid env_file", Detail: envFileProblem(cfg, p, err), Subject: at.Ptr()})
	}
	if len(p.Command) == 0 && inst.Info.Command == sdk.CommandRequired {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Missing command",
			Detail:  fmt.Sprintf("Process %q has no command, and the %s runner needs one: add command = [\"program\", \"arg\"].", p.Name, p.Runner),
			Subject: p.DeclRange.Ptr()})
	}
	if local && err == nil {
		// Without its env_file the process has no environment to look its
		// program up in: the error is enough.
		diags = append(diags, localWarnings(p, env, dir)...)
	}
	spec.Config = sdk.ProcessConfig{Name: p.Name, Command: p.Command, Env: env, Dir: dir, Settings: settings}
	spec.DependsOn = dependencies(cfg, p)
	if p.Health != nil {
		h, d := healthSpec(p, env, inst.Info.Capabilities)
		diags = append(diags, d...)
		spec.Health = h
	}
	return spec, diags
}

// healthSpec builds the supervisor's health check of p. An exec check
// runs where the process runs: through the runner when it has the exec
// capability (container, ssh), locally for a runner with the local
// capability (exec); on any other runner it is a diagnostic, never a
// silent local run.
func healthSpec(p *config.Process, env []string, capabilities []string) (*supervisor.HealthSpec, hcl.Diagnostics) {
	h := p.Health
	spec := &supervisor.HealthSpec{
		Interval: h.Interval, Timeout: h.Timeout, InitialDelay: h.InitialDelay,
		SuccessThreshold: h.SuccessThreshold, FailureThreshold: h.FailureThreshold,
		Restart: h.OnUnhealthy == config.OnUnhealthyRestart,
	}
	switch {
	case h.HTTP != nil:
		spec.Check = &supervisor.HTTPCheck{URL: h.HTTP.URL, Status: h.HTTP.Status}
	case h.TCP != nil:
		spec.Check = &supervisor.TCPCheck{Address: h.TCP.Address}
	case h.Log != nil:
		spec.Check = &supervisor.LogCheck{Match: regexp.MustCompile(h.Log.Match)}
	case h.Exec != nil && slices.Contains(capabilities, sdk.CapabilityExec):
		spec.Check = &supervisor.RunnerExecCheck{Command: h.Exec.Command}
	case h.Exec != nil && slices.Contains(capabilities, sdk.CapabilityLocal):
		// The runner's processes run on this machine.
		spec.Check = &supervisor.LocalExecCheck{Command: h.Exec.Command, Env: env, Dir: p.Dir}
	case h.Exec != nil:
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Exec check not supported by the runner",
			Detail: fmt.Sprintf("An exec check runs where the process runs, and the %q runner cannot run commands there (it lacks the %q capability). Use an http, tcp or log check.",
				p.Runner.Kind, sdk.CapabilityExec),
			Subject: h.CheckRange.Ptr(),
		}}
	default:
		return nil, nil
	}
	return spec, nil
}

// configureDiags is a failed Configure as diagnostics: one per problem the
// plugin reported, each attribute's at its value when body sets it and the
// others at rng (the block, or the process's runner reference), or the
// plain error of an older plugin as one diagnostic at rng.
func configureDiags(body hcl.Body, rng hcl.Range, kind, id string, err error) hcl.Diagnostics {
	var ce *pluginhost.ConfigureError
	if !errors.As(err, &ce) {
		return hcl.Diagnostics{pluginError(nil, rng, kind, id, err)}
	}
	var attrs hcl.Attributes
	if body != nil {
		attrs, _ = body.JustAttributes()
	}
	var diags hcl.Diagnostics
	for _, a := range ce.Attributes {
		subject := rng
		if attr, ok := attrs[a.Attribute]; ok {
			subject = attr.Expr.Range()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s attribute %q", kind, a.Attribute),
			Detail:   fmt.Sprintf("%s %q: %s: %s.", kind, id, a.Attribute, strings.TrimSuffix(a.Err.Error(), ".")),
			Subject:  subject.Ptr(),
		})
	}
	for _, other := range ce.Others {
		diags = append(diags, pluginError(nil, rng, kind, id, errors.New(other)))
	}
	return diags
}

// pluginError is a plugin problem as a diagnostic at the reference; a
// checksum mismatch of an external plugin (cfg given) is at its plugin block (its
// sha256, when the block gives one), where it is fixed.
func pluginError(cfg *config.Config, rng hcl.Range, kind, id string, err error) *hcl.Diagnostic {
	var pe *loader.PluginError
	if cfg != nil && errors.Is(err, loader.ErrChecksum) && errors.As(err, &pe) {
		for _, b := range cfg.Plugins {
			if b.Name != pe.Plugin {
				continue
			}
			rng = b.DeclRange
			if b.SHA256Range.Filename != "" {
				rng = b.SHA256Range
			}
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Cannot use %s %q", kind, id),
		Detail:   err.Error(),
		Subject:  rng.Ptr(),
	}
}
