package loader

import (
	"runtime"
	"sync"
)

// Linux delivers a child's parent-death signal when the *thread* that
// forked it exits, not the process; the Go runtime may retire threads. So
// every plugin is forked from one goroutine locked, for the life of prox,
// to its own thread, which never exits. The goroutine starts with the
// first plugin: importing the loader starts nothing.
var (
	spawnRequests = make(chan spawnRequest)
	spawnerOnce   sync.Once
)

type spawnRequest struct {
	fn   func() error
	done chan error
}

// spawner serves spawnRequests on a locked thread, for the life of the
// process.
func spawner() {
	runtime.LockOSThread()
	for req := range spawnRequests {
		req.done <- req.fn()
	}
}

// spawn runs fn, which starts a plugin process, on the locked thread,
// starting the thread's goroutine the first time.
func spawn(fn func() error) error {
	spawnerOnce.Do(func() { go spawner() })
	done := make(chan error, 1)
	spawnRequests <- spawnRequest{fn: fn, done: done}
	return <-done
}
