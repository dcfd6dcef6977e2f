// Package control is the control API of a running `prox up`: an HTTP/JSON
// server on a unix socket (Server, started with Listen and Serve) and its
// Go client (Client), which the `ps`, `logs`, `start`, `stop`, `restart`,
// `signal` and `events` commands use.
//
// Routes are versioned under /v1/. Answers are JSON; the follow routes
// (logs and events) stream newline-delimited JSON until the client goes
// away or prox stops. Errors are {"error": {"code": ..., "message": ...}}
// with a stable code (see the Code* constants). docs/api.md is the
// reference.
//
// The socket is guarded by a lock on a PID file beside it: a second
// instance on the same socket is refused with the running instance's PID,
// and a socket left behind by a crashed instance is detected and replaced.
package control
