package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
)

const (
	// Name is the runner's kind in prox.hcl.
	Name = "container"
	// Version is the runner's version.
	Version = "0.1.0"
)

const (
	// sweepTimeout bounds the removal of leftovers in Configure.
	sweepTimeout = 60 * time.Second
	// shutdownTimeout bounds Shutdown's removals and its wait for the
	// processes to finish.
	shutdownTimeout = 20 * time.Second
	// removeTimeout bounds the removal of one exited container.
	removeTimeout = 30 * time.Second
)

var (
	_ sdk.Runner              = (*Runner)(nil)
	_ sdk.Configurable        = (*Runner)(nil)
	_ sdk.ProcessConfigurable = (*Runner)(nil)
	_ sdk.Shutdowner          = (*Runner)(nil)
)

// configSchema is the schema of the runner block.
var configSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "host", Type: sdk.TypeString,
		Description: "The engine's address, e.g. \"unix:///run/podman/podman.sock\" or \"tcp://host:2376\". Default: DOCKER_HOST, else the first existing of /var/run/docker.sock, $XDG_RUNTIME_DIR/podman/podman.sock, /run/podman/podman.sock."},
	{Name: "label", Type: sdk.TypeString,
		Description: "The value of the prox.config label of this runner's containers; Configure removes the leftovers that carry it. Default: \"container-\" and a hash of the host name and the configuration file's path."},
}}

// runnerConfig are the values of the runner block.
type runnerConfig struct {
	Host  string `json:"host"`
	Label string `json:"label"`
}

// Runner runs processes as containers of one engine. It is safe for
// concurrent use. The zero value is not usable; call New, then Configure.
type Runner struct {
	logger hclog.Logger

	mu     sync.Mutex
	client *client.Client
	addr   string
	label  string
	// containers are those created and not yet removed, by ID; the value is
	// nil while the container is being started.
	containers map[string]*Process
	shut       bool
}

// New returns a Runner that logs as JSON to stderr.
func New() *Runner {
	return &Runner{
		logger:     hclog.New(&hclog.LoggerOptions{Name: Name, JSONFormat: true, Output: os.Stderr}),
		containers: make(map[string]*Process),
	}
}

// ConfigSchema returns the schema of the runner block.
func (r *Runner) ConfigSchema() *sdk.Schema { return configSchema }

// HasDefaultCommand implements sdk.DefaultCommander: a process without a
// command runs its image's.
func (r *Runner) HasDefaultCommand() bool { return true }

// ProcessSchema returns the schema of the per-process `container` block.
func (r *Runner) ProcessSchema() *sdk.Schema { return processSchema }

// Configure connects to the engine (see the package documentation for the
// address), then removes the leftovers of a previous run: every container
// labelled with this runner's config label. With cfg.CheckOnly it only
// checks the values.
func (r *Runner) Configure(cfg *sdk.Config) error {
	var rc runnerConfig
	if err := cfg.Decode(&rc); err != nil {
		return err
	}
	addr, err := engineAddress(rc.Host)
	if err != nil {
		return err
	}
	label := rc.Label
	if label == "" {
		if label, err = defaultLabel(); err != nil {
			return err
		}
	}
	if cfg.CheckOnly {
		return nil // prox validate: neither connect nor sweep
	}
	c, err := connect(context.Background(), addr)
	if err != nil {
		if rc.Host != "" {
			// The block named the engine: the problem is at its host.
			return sdk.AttributeErrorf("host", "%w", err)
		}
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), sweepTimeout)
	defer cancel()
	n, err := sweep(ctx, c, label)
	if err != nil {
		_ = c.Close()
		return fmt.Errorf("engine at %s: %w", addr, err)
	}
	if n > 0 {
		r.logger.Info("removed leftover containers", "count", n, "label", label)
	}

	r.mu.Lock()
	old := r.client
	r.client, r.addr, r.label = c, addr, label
	r.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	r.logger.Debug("configured", "host", addr, "label", label, "api_version", c.ClientVersion())
	return nil
}

// engine returns the client and the config label, or why none can be used.
func (r *Runner) engine() (*client.Client, string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.shut:
		return nil, "", errors.New("runner is shut down")
	case r.client == nil:
		return nil, "", errors.New("runner is not configured")
	}
	return r.client, r.label, nil
}

// track records a container just created; it fails when the runner was
// shut down meanwhile.
func (r *Runner) track(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut {
		return errors.New("runner is shut down")
	}
	r.containers[id] = nil
	return nil
}

// running records the Process of a tracked container; it fails when the
// runner was shut down meanwhile.
func (r *Runner) running(p *Process) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shut {
		return errors.New("runner is shut down")
	}
	r.containers[p.id] = p
	return nil
}

// forget drops a container once it has been removed.
func (r *Runner) forget(id string) {
	r.mu.Lock()
	delete(r.containers, id)
	r.mu.Unlock()
}

// Shutdown kills and removes every container the runner created and has not
// removed yet, waits (up to 20 seconds in all) until their processes have
// finished, and closes the connection to the engine. Later Starts fail.
func (r *Runner) Shutdown() error {
	r.mu.Lock()
	r.shut = true
	c := r.client
	ids := make(map[string]*Process, len(r.containers))
	for id, p := range r.containers {
		ids[id] = p
	}
	r.mu.Unlock()
	if c == nil {
		return nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for id, p := range ids {
		wg.Go(func() {
			if p != nil {
				// Nobody reads the output any more: drop it first. An
				// engine may wait for an attached reader (Podman's conmon
				// does) and then fail to stop the container.
				p.dropOutput()
			}
			if err := remove(ctx, c, id); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("remove container %s: %w", shortID(id), err))
				mu.Unlock()
				return
			}
			r.forget(id)
		})
	}
	wg.Wait()
	for _, p := range ids {
		if p == nil {
			continue
		}
		select {
		case <-p.done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("container %s did not finish within %s", p.name, shutdownTimeout))
		}
	}
	if err := c.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close engine connection: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
