package command

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/supervisor/control"
	"github.com/prox-dev/prox/tui"
)

// runTUI runs the agent with the terminal UI in front of it (prox up
// -tui): quitting the UI asks, then interrupts the agent as Ctrl-C would;
// the UI exits once prox has stopped, and prox's log lines, held while it
// was open, are printed.
func (c *UpCommand) runTUI(a *agent.Agent, sigs <-chan os.Signal) int {
	interrupts := make(chan os.Signal, 4)
	done := make(chan int, 1)
	go func() { done <- a.Run(interrupts) }()
	// Signals from outside (SIGTERM, SIGHUP) stop prox as without the UI.
	forwardDone := make(chan struct{})
	defer close(forwardDone)
	go func() {
		for {
			select {
			case s := <-sigs:
				interrupts <- s
			case <-forwardDone:
				return
			}
		}
	}()
	var asked atomic.Int32 // the interrupts the UI sent
	interrupt := func() {
		asked.Add(1)
		select {
		case interrupts <- os.Interrupt:
		default:
		}
	}
	c.held.hold()
	client := control.NewClient(c.socketPath())
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	uiDone := make(chan error, 1)
	go func() {
		_, err := tui.Run(ctx, tui.Options{Client: client, Color: c.useColor(c.stdout()), Output: c.stdout(), Interrupt: interrupt})
		uiDone <- err
	}()
	var code int
	select {
	case err := <-uiDone:
		c.held.release()
		if err != nil {
			c.Ui.Error(fmt.Sprintf("prox up -tui: the UI ended: %v; stopping every process", err))
		}
		// The UI ends once prox stops; if it ended otherwise (a signal
		// to the UI), stop as Ctrl-C does.
		if asked.Load() == 0 {
			interrupt()
		}
		code = <-done
	case code = <-done:
		// prox has stopped (every process exited, or the UI's quit was
		// quicker than the UI): the UI sees the control API go, says so
		// and quits. Cancelling it instead would kill it, and bubbletea
		// then closes the terminal under its own input reader.
		select {
		case <-uiDone:
		case <-time.After(uiGrace):
			cancel()
			<-uiDone
		}
		c.held.release()
	}
	return code
}

// uiGrace is how long the UI has to notice that prox stopped.
const uiGrace = 5 * time.Second

// heldOutput passes writes through, except while held: then it keeps
// them (up to maxHeld bytes, then it counts what it drops) until release.
type heldOutput struct {
	w io.Writer

	mu      sync.Mutex
	holding bool
	buf     bytes.Buffer
	dropped int
}

// maxHeld bounds what heldOutput keeps.
const maxHeld = 4 << 20

// Write implements io.Writer.
func (h *heldOutput) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return h.w.Write(p)
	}
	if h.buf.Len()+len(p) > maxHeld {
		h.dropped += len(p)
		return len(p), nil
	}
	return h.buf.Write(p)
}

func (h *heldOutput) hold() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
}

// release writes what was held and passes writes through again.
func (h *heldOutput) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.holding {
		return
	}
	h.holding = false
	_, _ = h.w.Write(h.buf.Bytes())
	h.buf.Reset()
	if h.dropped > 0 {
		fmt.Fprintf(h.w, "prox: %d bytes of prox's log lines were not kept while the UI was open\n", h.dropped)
		h.dropped = 0
	}
}
