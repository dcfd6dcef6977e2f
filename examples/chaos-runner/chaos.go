package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
)

// Name is the runner's kind in prox.hcl.
const Name = "chaos"

var (
	_ sdk.Runner       = (*Runner)(nil)
	_ sdk.Configurable = (*Runner)(nil)
	_ sdk.Shutdowner   = (*Runner)(nil)
)

// Runner starts processes through prox's exec runner and injects faults
// into them. It is safe for concurrent use; call New.
type Runner struct {
	exec   *execrunner.Runner
	logger hclog.Logger

	mu  sync.Mutex
	cfg *config
	rng *rand.Rand
}

// New returns a Runner that injects no fault until configured.
func New() *Runner {
	r := &Runner{
		exec:   execrunner.New(),
		logger: hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr}),
	}
	r.configure(&config{killSignal: defaultKillSignal})
	return r
}

// ConfigSchema returns the schema of the runner block.
func (r *Runner) ConfigSchema() *sdk.Schema { return schema }

// Configure takes the runner block's values.
func (r *Runner) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	r.configure(cfg)
	return nil
}

func (r *Runner) configure(cfg *config) {
	seed := cfg.seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	r.rng = rand.New(rand.NewPCG(seed, seed^0x5eed))
}

// startDelay draws the delay of the next start: uniform in
// [0, start_delay).
func (r *Runner) startDelay() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.startDelay <= 0 {
		return 0
	}
	return time.Duration(r.rng.Int64N(int64(r.cfg.startDelay)))
}

// killDelay draws the time until the next kill: uniform in
// [kill_every/2, 3*kill_every/2); 0 means never.
func (r *Runner) killDelay() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cfg.killEvery <= 0 {
		return 0
	}
	return r.cfg.killEvery/2 + time.Duration(r.rng.Int64N(int64(r.cfg.killEvery)))
}

// Start waits for the drawn start delay (cancelled with ctx), starts the
// process through the exec runner, and schedules its kills.
func (r *Runner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	if d := r.startDelay(); d > 0 {
		r.logger.Info("delaying start", "process", cfg.Name, "delay", d.String())
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return nil, fmt.Errorf("start delay (%s): %w", d, ctx.Err()) // the cause: prox names the process
		}
	}
	p, err := r.exec.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	sig := r.cfg.killSignal
	r.mu.Unlock()
	cp := &process{Process: p, exited: make(chan struct{})}
	go cp.watch()
	go r.killLoop(cfg.Name, cp, sig)
	return cp, nil
}

// killLoop signals p at drawn intervals until it exits.
func (r *Runner) killLoop(name string, p *process, sig os.Signal) {
	for {
		d := r.killDelay()
		if d == 0 {
			return
		}
		timer := time.NewTimer(d)
		select {
		case <-p.exited:
			timer.Stop()
			return
		case <-timer.C:
		}
		sigName, _ := sdk.SignalName(sig)
		r.logger.Warn("chaos: signalling process", "process", name, "pid", p.PID(), "signal", sigName)
		if err := p.Signal(sig); err != nil {
			r.logger.Error("chaos: signal failed", "process", name, "error", err)
		}
	}
}

// Shutdown kills every process still running.
func (r *Runner) Shutdown() error { return r.exec.Shutdown() }
