package agent

import (
	"context"
	"errors"
)

// ErrReloadUnavailable is what Reload returns until prox can reload its
// configuration (issue 18, item 2).
var ErrReloadUnavailable = errors.New("reloading the configuration is not available yet")

// Reload reads the configuration again and applies what changed. A
// detached prox calls it on SIGHUP (command/detach.go, onHangup); a prox
// in a terminal stops on SIGHUP instead. Until reloading exists it
// changes nothing and returns ErrReloadUnavailable, and prox keeps
// running.
func (a *Agent) Reload(ctx context.Context) error {
	return ErrReloadUnavailable
}
