package sdk

import (
	"context"
	"errors"
	"fmt"

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
// mapping happens.
func fromGRPC(op string, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("%s: %w: %s", op, ErrPluginUnavailable, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%s: %w", op, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s: %w", op, context.DeadlineExceeded)
	case codes.NotFound:
		return fmt.Errorf("%s: %w: %s", op, ErrUnknownHandle, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%s: %w", op, ErrUnimplemented)
	default:
		return fmt.Errorf("%s: %s", op, st.Message())
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
