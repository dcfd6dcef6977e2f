package pluginhost

import (
	"context"
	"errors"
	"fmt"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

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
		return fmt.Errorf("%s%w: %s", prefix, sdk.ErrPluginUnavailable, st.Message())
	case codes.Canceled:
		return fmt.Errorf("%s%w", prefix, context.Canceled)
	case codes.DeadlineExceeded:
		return fmt.Errorf("%s%w", prefix, context.DeadlineExceeded)
	case codes.NotFound:
		return fmt.Errorf("%s%w: %s", prefix, sdk.ErrUnknownHandle, st.Message())
	case codes.Unimplemented:
		return fmt.Errorf("%s%w", prefix, sdk.ErrUnimplemented)
	default:
		return errors.New(prefix + st.Message())
	}
}

// absent turns ErrUnimplemented into nil: for an optional RPC, a plugin
// that does not implement it (built with an older SDK, say) lacks the
// capability, which is not an error.
func absent(err error) error {
	if errors.Is(err, sdk.ErrUnimplemented) {
		return nil
	}
	return err
}

// ConfigureError is the host's view of a Configure that failed with
// AttributeErrors: each of them, and the problems of the block as a whole.
// A plugin built with an SDK without attribute problems fails Configure
// with a plain error instead.
type ConfigureError struct {
	// Message is the component's whole error message.
	Message string
	// Attributes are its attribute problems, in order.
	Attributes []*sdk.AttributeError
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

// configureError is the host side of the sdk's configureStatus: a *ConfigureError
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
			ce.Attributes = append(ce.Attributes, &sdk.AttributeError{Attribute: p.Attribute, Err: errors.New(p.Message)})
		}
		return ce
	}
	return fmt.Errorf("configure: %s", st.Message())
}
