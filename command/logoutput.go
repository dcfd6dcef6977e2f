package command

import (
	"io"
	"sync/atomic"
)

// logOutput is where prox's own log lines go (stderr). Before each line it
// runs the hook `prox up` sets (pipeline.syncTerminal), which prints the
// process output received before that line: on a terminal a process's last
// lines come before the line that says it exited, not after it.
type logOutput struct {
	w      io.Writer
	color  bool
	before atomic.Pointer[func()]
}

// Write runs the hook, then writes p.
func (o *logOutput) Write(p []byte) (int, error) {
	if f := o.before.Load(); f != nil {
		(*f)()
	}
	return o.w.Write(p)
}

// SupportsColor tells hclog whether to colour: the writer it wraps is not
// visible to hclog's own terminal check.
func (o *logOutput) SupportsColor() bool { return o.color }

// setBefore sets the hook; nil removes it.
func (o *logOutput) setBefore(f func()) {
	if f == nil {
		o.before.Store(nil)
		return
	}
	o.before.Store(&f)
}
