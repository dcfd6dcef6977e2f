// Package container is prox's container runner: it runs each process as a
// container of a Docker-compatible engine (Docker, or Podman's API service),
// through the Docker Engine API with API-version negotiation.
//
// # The engine
//
// The runner block's `host` attribute names the engine's address, e.g.
// `runner "container" "local" { host = "unix:///run/podman/podman.sock" }`.
// Without it the runner uses DOCKER_HOST, else the first of the usual sockets
// that exists: /var/run/docker.sock, $XDG_RUNTIME_DIR/podman/podman.sock,
// /run/podman/podman.sock. Configure pings the engine; when none answers it
// fails with an error naming the address it tried.
//
// # A process
//
// The per-process block `container { image = "..." }` names the image and the
// container's settings (ports, volumes, network, user, init, pull policy,
// name). The process's command, when set, replaces the image's command (the
// image's entrypoint is kept); its working directory is the working
// directory inside the container.
//
// The container's standard output and standard error are attached before it
// starts, so nothing it writes is missed, and arrive separately, as the
// Process's Stdout and Stderr. Signal delivers a signal to the container's
// main process (PID 1 inside the container, or the init when `init` is set,
// which forwards it). Graceful stop is the host's business: it sends its stop
// signal, waits, then sends SIGKILL.
//
// # Exec
//
// The runner is an sdk.Execer: prox's exec health checks run inside the
// process's container through the engine's exec, with the container's user,
// working directory and environment. The engine API cannot stop an exec'd
// command: when the check's timeout ends first, the check fails at once but
// the command runs on until it ends (see Runner.Exec).
//
// # Stats
//
// Its processes are sdk.ProcessStatters: the CPU time and memory of the
// whole container, from one sample of the engine's stats API (prox top,
// /metrics).
//
// # Environment
//
// The host hands a runner the process's complete environment, its own
// environment included; most of it describes the local machine and means
// nothing inside a container. The runner therefore drops these variables and
// passes on the rest: PATH, HOME, USER, LOGNAME, SHELL, PWD, OLDPWD, TERM,
// TMPDIR, HOSTNAME, _ and every variable whose name starts with SSH_, XDG_ or
// DOCKER_. The rule is by name: a process that sets one of them in its `env`
// loses it too (the image's own value applies).
//
// # Leaving nothing behind
//
// Every container carries the labels prox=1, prox.config=<label> and
// prox.process=<process name>. The config label identifies one runner
// configuration; it is the runner block's `label` attribute, by default
// derived from the host name of the machine and the path of the
// configuration file, which prox passes in sdk.ConfigPathEnv.
//
//   - After a container has exited and its output has been read to the end,
//     the runner removes it (with its anonymous volumes) before Wait returns.
//   - Configure removes, by force, every container that carries the runner's
//     config label: the leftovers of a previous run that could not clean up.
//   - Shutdown kills and removes every container the runner created and has
//     not removed yet.
//   - When the plugin is told to terminate (prox died), the SDK delivers
//     SIGKILL to every process, which kills its container; the stopped
//     container is removed by the next run's Configure.
package container
