package supervisor

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/logs"
	"github.com/prox-dev/prox/sdk"
)

// DefaultOutputGrace is how long, by default, the output of a process may
// take to end once the process has exited (Options.OutputGrace). The exit
// is known from Wait; the output normally ends with it, since the runner
// ends the rest of the process group. When it does not, something the
// process left running outside its group (a `setsid` descendant) holds
// the pipe open, and prox gives up on the output after the grace rather
// than report the exit never. A second is long enough for the tail of a
// remote process's output to arrive, and short enough not to hold up a
// restart or a stop.
const DefaultOutputGrace = time.Second

// DefaultKillWait is how long, by default, prox waits for a process's
// runner to report the exit after SIGKILL (Options.KillWait). SIGKILL
// cannot be ignored, so the exit normally comes within milliseconds (a
// remote runner's, within a round trip). When it does not, the runner
// itself does not answer (its plugin is frozen by SIGSTOP, or stuck), and
// prox gives up on the run: it logs an error, and the stop ends with the
// process stopped, its reason saying the exit was never reported.
const DefaultKillWait = 5 * time.Second

// watch captures one run's output and reports its end to the loop. The
// end is the exit that Wait reports, not the end of the output: once Wait
// has returned, the output gets the grace to end, then is abandoned
// (sdk.OutputCloser), so that a descendant holding the pipes open delays
// neither the exit, nor the restart, nor a stop by more than the grace.
// observer, when not nil, sees every line of the run (a log check's
// probe).
// run is the run's number (m.run), which the loop checks, since a run it
// gave up on (abandon) may report its exit late. The report never blocks
// once the loop has ended.
func (m *managedProcess) watch(proc sdk.Process, observer LineObserver, run uint64) {
	d := &outputDrain{changed: make(chan struct{}, 1)}
	var wg sync.WaitGroup
	for _, s := range []struct {
		stream sdk.Stream
		r      func() error
	}{
		{sdk.Stdout, func() error { return m.framer(sdk.Stdout, d, observer).Run(proc.Stdout()) }},
		{sdk.Stderr, func() error { return m.framer(sdk.Stderr, d, observer).Run(proc.Stderr()) }},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.r(); err != nil {
				m.logger.Debug("output ended with an error", "stream", s.stream, "error", err)
			}
		}()
	}
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	st := exitStatus(proc.Wait(), m.now())
	if !d.drain(ended, m.outputGrace) {
		if oc, ok := proc.(sdk.OutputCloser); ok {
			// Ends the reads; the lines read so far are handed over
			// before the framers return.
			oc.CloseOutput()
			<-ended
			m.logger.Warn("output cut off: the process has exited, but something it started outside its process group still holds its output open",
				"grace", m.outputGrace)
		} else {
			// The runner cannot be told: its streams are read on in the
			// background until they end.
			m.logger.Warn("output not ended: the process has exited, but something it started outside its process group still holds its output open",
				"grace", m.outputGrace)
		}
	}
	select {
	case m.exited <- runExit{run: run, st: st}:
	case <-m.ctx.Done():
	}
}

func (m *managedProcess) framer(stream sdk.Stream, d *outputDrain, observer LineObserver) *logs.Framer {
	emit := m.output
	if observer != nil {
		emit = func(entries []logs.LogEntry, block *logs.Block) {
			for i := range entries {
				observer.ObserveLine(entries[i].Line)
			}
			m.output(entries, block)
		}
	}
	return &logs.Framer{Process: m.spec.Name, Stream: stream, Emit: func(entries []logs.LogEntry, block *logs.Block) {
		d.enter()
		emit(entries, block)
		d.leave()
	}}
}

// outputDrain follows the framers of one run, so that the grace after the
// exit counts only the time they wait for the pipes: the time they spend
// handing lines to the log manager (a full sink queue with overflow
// "block" pauses them) is the log manager's, and what is still in the
// pipes then is the process's output, not a descendant's.
type outputDrain struct {
	emitting atomic.Int32 // framers inside their Emit
	exited   atomic.Bool  // drain has begun: enter and leave report
	changed  chan struct{}
}

func (d *outputDrain) enter() {
	d.emitting.Add(1)
	d.report()
}

func (d *outputDrain) leave() {
	d.emitting.Add(-1)
	d.report()
}

// report wakes drain after a change of emitting. Before the exit it costs
// an atomic load. A wake-up may stand for several changes: drain reads
// emitting after it, so it never misses the latest.
func (d *outputDrain) report() {
	if d.exited.Load() {
		select {
		case d.changed <- struct{}{}:
		default:
		}
	}
}

// drain waits until ended is closed (both framers have returned) and
// reports true, or reports false once the framers have spent grace, in
// total since it was called, waiting for the pipes rather than handing
// lines over.
func (d *outputDrain) drain(ended <-chan struct{}, grace time.Duration) bool {
	d.exited.Store(true)
	idle := d.emitting.Load() == 0
	var waited time.Duration // idle time so far
	last := time.Now()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	for {
		if !idle {
			timer.Stop()
		} else {
			timer.Reset(grace - waited)
		}
		select {
		case <-ended:
			return true
		case <-d.changed:
		case <-timer.C:
		}
		now := time.Now()
		if idle {
			waited += now.Sub(last)
		}
		last = now
		idle = d.emitting.Load() == 0
		if idle && waited >= grace {
			select {
			case <-ended:
				return true
			default:
				return false
			}
		}
	}
}
