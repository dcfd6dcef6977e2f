package sdk

import (
	"errors"
	"fmt"

	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrPluginUnavailable means the plugin process could not be reached:
	// it exited, crashed or was killed.
	ErrPluginUnavailable = errors.New("plugin unavailable")
	// ErrUnknownHandle means a runner does not know the process handle.
	ErrUnknownHandle = errors.New("unknown process handle")
	// ErrUnimplemented means the plugin does not implement an optional
	// capability (gRPC Unimplemented). The host side of the optional base
	// RPCs (ConfigSchema, Configure, Shutdown) treats it as absence and
	// returns nil instead: no schema, no configuration, nothing to release.
	ErrUnimplemented = errors.New("not implemented by the plugin")
	// ErrOutputClosed is returned by the reads of a process's output after
	// the host gave up on it (OutputCloser).
	ErrOutputClosed = errors.New("output closed before its end")
)

// ExitError reports a process that ended unsuccessfully: with a non-zero
// exit code, or killed by a signal (Signal is then its name, e.g.
// "SIGKILL", and Code is -1).
type ExitError struct {
	Code   int
	Signal string
}

// Error implements error.
func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// AttributeError is a problem with one attribute of a component's config
// block, e.g. a URL without a scheme. Configure returns one, or several
// joined with errors.Join so that a user sees every problem at once; prox
// shows each at the line of its attribute (at the block when the attribute
// is not set, e.g. a required one).
type AttributeError struct {
	// Attribute is the attribute's name in the block.
	Attribute string
	Err       error
}

// Error returns "ATTRIBUTE: reason".
func (e *AttributeError) Error() string { return e.Attribute + ": " + e.Err.Error() }

// Unwrap returns the reason.
func (e *AttributeError) Unwrap() error { return e.Err }

// AttributeErrorf returns an *AttributeError for attribute with the reason
// fmt.Errorf(format, args...) (%w wraps as usual).
func AttributeErrorf(attribute, format string, args ...any) error {
	return &AttributeError{Attribute: attribute, Err: fmt.Errorf(format, args...)}
}

// AttributeErrors returns the AttributeErrors in err's tree (errors.Join,
// %w), in order; nil when there are none.
func AttributeErrors(err error) []*AttributeError {
	var out []*AttributeError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *AttributeError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// configureStatus is the gRPC status of a failed Configure: the error's
// message, and its problems as AttributeProblems in the details when it
// has AttributeErrors. Each error joined at the top (errors.Join) is one
// problem: its AttributeErrors, or else a problem of the block.
func configureStatus(err error) error {
	st := status.New(codes.InvalidArgument, err.Error())
	top := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		top = j.Unwrap()
	}
	details := &proto.AttributeProblems{}
	for _, e := range top {
		attrs := AttributeErrors(e)
		if len(attrs) == 0 {
			details.Others = append(details.Others, e.Error())
		}
		for _, a := range attrs {
			details.Problems = append(details.Problems, &proto.AttributeProblem{Attribute: a.Attribute, Message: a.Err.Error()})
		}
	}
	if len(details.Problems) == 0 {
		return st.Err()
	}
	if withDetails, derr := st.WithDetails(details); derr == nil {
		st = withDetails
	}
	return st.Err()
}
