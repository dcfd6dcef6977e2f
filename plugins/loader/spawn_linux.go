package loader

import "runtime"

// Linux delivers a child's parent-death signal when the *thread* that
// forked it exits, not the process; the Go runtime may retire threads. So
// every plugin is forked from one goroutine locked, for the life of prox,
// to its own thread, which never exits.
var spawnRequests = make(chan spawnRequest)

type spawnRequest struct {
	fn   func() error
	done chan error
}

func init() {
	go func() {
		runtime.LockOSThread()
		for req := range spawnRequests {
			req.done <- req.fn()
		}
	}()
}

// spawn runs fn, which starts a plugin process, on the locked thread.
func spawn(fn func() error) error {
	done := make(chan error, 1)
	spawnRequests <- spawnRequest{fn: fn, done: done}
	return <-done
}
