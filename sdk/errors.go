package sdk

import (
	"context"
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

// fromGRPC maps a gRPC transport error to the sentinel errors above so that
// errors.Is works across the plugin boundary. It is the only place such
// mapping happens. op names the call ("wait: ..."); "" gives the cause
// alone, for a caller that names the act itself.
func fromGRPC(op string, err error) error {
	if err == nil {
		return nil
	}
	prefix := ""
	if op != "" {
		prefix = op + ": "
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s%w", prefix, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("%s%w: %s", prefix, ErrPluginUnavailable, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%s%w", prefix, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s%w", prefix, context.DeadlineExceeded)
	case codes.NotFound:
		return fmt.Errorf("%s%w: %s", prefix, ErrUnknownHandle, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%s%w", prefix, ErrUnimplemented)
	default:
		return errors.New(prefix + st.Message())
	}
}

// absent turns ErrUnimplemented into nil: for an optional RPC, a plugin
// that does not implement it (built with an older SDK, say) lacks the
// capability, which is not an error.
func absent(err error) error {
	if errors.Is(err, ErrUnimplemented) {
		return nil
	}
	return err
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

// ConfigureError is the host's view of a Configure that failed with
// AttributeErrors: each of them, and the problems of the block as a whole.
// A plugin built with an SDK without attribute problems fails Configure
// with a plain error instead.
type ConfigureError struct {
	// Message is the component's whole error message.
	Message string
	// Attributes are its attribute problems, in order.
	Attributes []*AttributeError
	// Others are its other problems (the block's), in order.
	Others []string
}

// Error returns "configure: MESSAGE".
func (e *ConfigureError) Error() string { return "configure: " + e.Message }

// Unwrap returns the attribute problems.
func (e *ConfigureError) Unwrap() []error {
	out := make([]error, len(e.Attributes))
	for i, a := range e.Attributes {
		out[i] = a
	}
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

// configureError is the host side of configureStatus: a *ConfigureError
// when the plugin sent attribute problems, else the error as other calls
// report theirs (nil for a plugin without Configure).
func configureError(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		return absent(fromGRPC("configure", err))
	}
	for _, d := range st.Details() {
		ps, ok := d.(*proto.AttributeProblems)
		if !ok || len(ps.Problems) == 0 {
			continue
		}
		ce := &ConfigureError{Message: st.Message(), Others: ps.Others}
		for _, p := range ps.Problems {
			ce.Attributes = append(ce.Attributes, &AttributeError{Attribute: p.Attribute, Err: errors.New(p.Message)})
		}
		return ce
	}
	return fmt.Errorf("configure: %s", st.Message())
}
