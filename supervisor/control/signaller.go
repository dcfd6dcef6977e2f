package control

import (
	"context"
	"syscall"
)

// Signaller delivers a signal to the current run of a process (to its
// whole process group, or the runner's equivalent). The server uses the
// supervisor when it implements Signaller (supervisor.Manager does), else
// Options.Signaller; without one the signal route answers 501.
type Signaller interface {
	SignalProcess(ctx context.Context, name string, sig syscall.Signal) error
}
