package control

import (
	"errors"
	"fmt"
)

// Error codes of the API: stable, for scripts to test.
const (
	// CodeUnknownProcess: no process has that name (404).
	CodeUnknownProcess = "unknown_process"
	// CodeInvalidRegex: the regex filter does not compile (400).
	CodeInvalidRegex = "invalid_regex"
	// CodeInvalidSignal: the signal is not a known signal (400).
	CodeInvalidSignal = "invalid_signal"
	// CodeInvalidArgument: another bad parameter or body (400).
	CodeInvalidArgument = "invalid_argument"
	// CodeNotRunning: the process, or the supervisor, is not running, so
	// the request cannot be carried out (409).
	CodeNotRunning = "not_running"
	// CodeActionFailed: a start, stop or restart failed (500).
	CodeActionFailed = "action_failed"
	// CodeNotImplemented: this instance cannot do that (501).
	CodeNotImplemented = "not_implemented"
	// CodeUnavailable: the instance is shutting down, or has no log
	// manager (503).
	CodeUnavailable = "unavailable"
	// CodeNotFound: no such route (404).
	CodeNotFound = "not_found"
	// CodeMethodNotAllowed: the route takes another method (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeInternal: a bug (500).
	CodeInternal = "internal"
)

// APIError is an error answer of the API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is one of the Code* constants.
	Code string
	// Message says what went wrong, for people.
	Message string
}

// Error implements error.
func (e *APIError) Error() string { return e.Message }

// IsCode reports whether err is an *APIError with the given code.
func IsCode(err error, code string) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Code == code
}

// apiErrorf returns an *APIError.
func apiErrorf(status int, code, format string, args ...any) *APIError {
	return &APIError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrNoServer means nothing answers on the socket: no `prox up` runs
// there (no socket file, or one left behind by a run that ended).
var ErrNoServer = errors.New("no prox is running")

// ErrAlreadyRunning means another `prox up` holds the socket.
var ErrAlreadyRunning = errors.New("another prox is already running")

// AlreadyRunningError names the instance that holds the socket. It wraps
// ErrAlreadyRunning.
type AlreadyRunningError struct {
	// Socket is the contested socket's path.
	Socket string
	// PID is the running instance's process ID, 0 if unknown.
	PID int
}

// Error implements error.
func (e *AlreadyRunningError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("another prox is already running on %s (PID %d): stop it first, or give this one another socket with -socket or PROX_SOCKET", e.Socket, e.PID)
	}
	return fmt.Sprintf("another prox is already running on %s: stop it first, or give this one another socket with -socket or PROX_SOCKET", e.Socket)
}

// Unwrap returns ErrAlreadyRunning.
func (e *AlreadyRunningError) Unwrap() error { return ErrAlreadyRunning }
