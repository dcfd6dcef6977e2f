package main

import (
	"syscall"

	"github.com/prox-dev/prox/sdk"
)

// defaultKillSignal is kill_signal's default.
const defaultKillSignal = syscall.SIGKILL

// process is a process of the exec runner that the chaos runner watches.
type process struct {
	sdk.Process
	exited chan struct{} // closed once the process has exited
}

var (
	_ sdk.Process           = (*process)(nil)
	_ sdk.LocalProcessGroup = (*process)(nil)
)

// watch closes exited when the process has exited. Wait may be called more
// than once, so prox's own Wait is not disturbed.
func (p *process) watch() {
	_ = p.Process.Wait()
	close(p.exited)
}

// LocalProcessGroup passes on the exec runner's process group, so that
// prox can still kill it should this plugin die.
func (p *process) LocalProcessGroup() int {
	if lg, ok := p.Process.(sdk.LocalProcessGroup); ok {
		return lg.LocalProcessGroup()
	}
	return 0
}
