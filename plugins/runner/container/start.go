package container

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/prox-dev/prox/sdk"
)

// Start runs the process as a container: it makes sure the image is there
// (per the `pull` policy), creates the container with the process's
// command, environment (see the package documentation) and working
// directory, attaches to its output, starts it, and returns once it runs.
// ctx bounds all of that; an error leaves no container behind.
func (r *Runner) Start(ctx context.Context, cfg *sdk.ProcessConfig) (sdk.Process, error) {
	p, err := r.start(ctx, cfg)
	if err != nil {
		return nil, err // the cause: prox names the process
	}
	return p, nil
}

func (r *Runner) start(ctx context.Context, cfg *sdk.ProcessConfig) (*Process, error) {
	c, label, err := r.engine()
	if err != nil {
		return nil, err
	}
	if cfg.Settings == nil || len(cfg.Settings.Values) == 0 {
		return nil, errors.New(`the process has no "container" block: it needs at least an image`)
	}
	sp, err := parseSettings(cfg.Name, cfg.Settings)
	if err != nil {
		return nil, err
	}
	if err := ensureImage(ctx, c, sp.image, sp.pull); err != nil {
		return nil, err
	}

	config := &container.Config{
		Image:        sp.image,
		Env:          containerEnv(cfg.Env),
		WorkingDir:   cfg.Dir,
		User:         sp.user,
		Labels:       labels(label, cfg.Name),
		ExposedPorts: sp.exposed,
		AttachStdout: true,
		AttachStderr: true,
	}
	if len(cfg.Command) > 0 {
		config.Cmd = cfg.Command
	}
	host := &container.HostConfig{
		Binds:        sp.binds,
		PortBindings: sp.bindings,
		NetworkMode:  container.NetworkMode(sp.network),
	}
	if sp.init {
		host.Init = &sp.init
	}
	created, err := c.ContainerCreate(ctx, client.ContainerCreateOptions{Config: config, HostConfig: host, Name: sp.name})
	if err != nil {
		return nil, fmt.Errorf("create container %s from image %q: %w", sp.name, sp.image, err)
	}
	for _, w := range created.Warnings {
		r.logger.Warn("engine warning", "container", sp.name, "warning", w)
	}
	if err := r.track(created.ID); err != nil {
		r.discard(ctx, c, created.ID)
		return nil, err
	}

	p, err := r.run(ctx, c, created.ID, sp.name)
	if err != nil {
		r.discard(ctx, c, created.ID)
		return nil, err
	}
	return p, nil
}

// run attaches to the created container id and starts it.
func (r *Runner) run(ctx context.Context, c *client.Client, id, name string) (*Process, error) {
	// Attached before the start, so that no output is missed.
	att, err := c.ContainerAttach(ctx, id, client.ContainerAttachOptions{Stream: true, Stdout: true, Stderr: true})
	if err != nil {
		// Podman prepares the container for an attach: one that cannot
		// start fails here, and the failed upgrade loses the engine's
		// reason. A start attempt tells it (the container is discarded
		// either way).
		if _, serr := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); serr != nil {
			return nil, fmt.Errorf("start container %s: %w", name, serr)
		}
		return nil, fmt.Errorf("attach to container %s: %w", name, err)
	}
	if _, err := c.ContainerStart(ctx, id, client.ContainerStartOptions{}); err != nil {
		att.Close()
		return nil, fmt.Errorf("start container %s: %w", name, err)
	}
	pid := 0
	if res, err := c.ContainerInspect(ctx, id, client.ContainerInspectOptions{}); err == nil && res.Container.State != nil {
		pid = res.Container.State.Pid
	}
	life, cancel := context.WithCancel(context.Background())
	p := &Process{
		r:      r,
		c:      c,
		id:     id,
		name:   name,
		pid:    pid,
		attach: att.HijackedResponse,
		stdout: newOutputPipe(),
		stderr: newOutputPipe(),
		cancel: cancel,
		sent:   make(map[syscall.Signal]bool),
		exited: make(chan struct{}),
		copied: make(chan struct{}),
		done:   make(chan struct{}),
	}
	if err := r.running(p); err != nil {
		cancel()
		att.Close()
		return nil, err
	}
	go p.copyOutput()
	go p.watch(life)
	return p, nil
}

// discard removes a container whose start failed. ctx may be over: the
// removal gets its own time.
func (r *Runner) discard(ctx context.Context, c *client.Client, id string) {
	rmCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), removeTimeout)
	defer cancel()
	if err := remove(rmCtx, c, id); err != nil {
		r.logger.Warn("failed to remove a container that did not start", "id", shortID(id), "error", err)
		return
	}
	r.forget(id)
}
