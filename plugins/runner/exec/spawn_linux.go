package exec

import (
	"context"
	osexec "os/exec"
	"runtime"
	"sync"
	"syscall"
)

// Why one locked thread forks every child:
//
// Pdeathsig (PR_SET_PDEATHSIG) asks Linux to send SIGKILL to the child when
// its parent dies, so that children do not outlive a crashed plugin. But
// for Linux the "parent" is the *thread* that forked the child, not the
// process: when that thread exits the signal is delivered, even though the
// plugin lives on. The Go runtime may retire OS threads at any time (a
// goroutine that ends while locked to its thread takes the thread with it),
// so a child forked from an arbitrary goroutine could be killed at random.
//
// Hence all forks happen on a single goroutine that locks itself to its OS
// thread and never unlocks nor returns: that thread lives exactly as long as
// the plugin process, and so does every child's parent-death guarantee.

// spawnRequest asks the spawner to start cmd and reply with the result.
type spawnRequest struct {
	cmd   *osexec.Cmd
	reply chan error
}

var (
	spawnerOnce sync.Once
	spawnReqs   chan spawnRequest
)

// spawn starts cmd on the spawner's thread. ctx bounds only the wait for
// the spawner to take the request: once taken, the start is seen through so
// that no started process goes unnoticed.
func spawn(ctx context.Context, cmd *osexec.Cmd) error {
	spawnerOnce.Do(func() {
		spawnReqs = make(chan spawnRequest)
		go spawner(spawnReqs)
	})
	if err := ctx.Err(); err != nil {
		return err
	}
	req := spawnRequest{cmd: cmd, reply: make(chan error, 1)}
	select {
	case spawnReqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-req.reply
}

// spawner is the locked-thread fork loop; it never returns.
func spawner(reqs <-chan spawnRequest) {
	runtime.LockOSThread()
	// Deliberately never unlocked: see above.
	for req := range reqs {
		// cmd has only *os.File (or nil) I/O and no context, so Start
		// forks here, on this thread, and starts no goroutine.
		req.reply <- req.cmd.Start()
	}
}

// sysProcAttr puts the child in a new process group of its own and kills it
// if its parent (the spawner's thread, hence the plugin) dies. With a
// cgroupFD of 0 or more, the child starts in that cgroup (clone3's
// CLONE_INTO_CGROUP): it is there before it runs a single instruction of
// its own, so none of its descendants can start outside.
func sysProcAttr(cgroupFD int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid:     true,
		Pdeathsig:   syscall.SIGKILL,
		UseCgroupFD: cgroupFD >= 0,
		CgroupFD:    max(cgroupFD, 0),
	}
}
