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
	_ sdk.LocalCgroup       = (*process)(nil)
	_ sdk.Containment       = (*process)(nil)
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

// LocalCgroup passes on the exec runner's cgroup, so that prox can still
// kill all of the process's descendants should this plugin die.
func (p *process) LocalCgroup() string {
	if lc, ok := p.Process.(sdk.LocalCgroup); ok {
		return lc.LocalCgroup()
	}
	return ""
}

// Containment passes on the exec runner's containment, for prox ps.
func (p *process) Containment() string {
	if c, ok := p.Process.(sdk.Containment); ok {
		return c.Containment()
	}
	return ""
}
