package sdk

import (
	"sync"
	"time"

	"github.com/prox-dev/prox/internal/memtrim"
)

// A runner plugin that starts many processes at once (prox's start, a
// restart of everything) builds and drops a few megabytes of garbage: the
// requests, their environments, the gRPC streams of the starts. Go's
// scavenger keeps the freed heap mapped, so the plugin stays that much
// bigger for as long as it runs. burstTrim gives it back once a burst of
// starts is over, when the plugin asks for it (ServeConfig.ReleaseMemory:
// debug.FreeOSMemory acts on the whole process).

// Defaults of the runner server's burstTrim: a burst is at least
// trimBurstStarts starts, over once trimQuiet has passed without one.
const (
	trimBurstStarts = 8
	trimQuiet       = time.Second
)

// burstTrim calls release once a burst of at least min events has been
// followed by quiet without any.
type burstTrim struct {
	quiet   time.Duration
	min     int
	release func()

	mu    sync.Mutex
	count int // events since the last fire
	timer *time.Timer
}

func newBurstTrim() *burstTrim {
	return &burstTrim{quiet: trimQuiet, min: trimBurstStarts, release: memtrim.Release}
}

// note records one event and restarts the quiet period; on a nil
// burstTrim it does nothing.
func (t *burstTrim) note() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.count++
	if t.timer == nil {
		t.timer = time.AfterFunc(t.quiet, t.fire)
	} else {
		t.timer.Reset(t.quiet)
	}
}

// fire ends the quiet period: release, when the burst was big enough.
func (t *burstTrim) fire() {
	t.mu.Lock()
	n := t.count
	t.count = 0
	t.mu.Unlock()
	if n >= t.min {
		t.release()
	}
}
