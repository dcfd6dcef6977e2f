package tui

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/prox-dev/prox/supervisor/control"
)

// FPS is the most frames the UI renders a second; the log feed hands its
// lines over at most this often, in one batch each time.
const FPS = 30

// frame is the time between two frames.
const frame = time.Second / FPS

// pollEvery is how often the process table is read again (the events
// update it in between).
const pollEvery = time.Second

// usageEvery is how many polls go by between two readings of /metrics:
// CPU % is then the average of the last 3 s, and an idle UI (which the
// 30 Hz frame ticker already costs most of its 1 % budget) makes one
// request a second, not two.
const usageEvery = 3

// tailLines is how many kept lines the log pane asks for when it starts
// following a process (or all): the newest of prox's ring buffer.
const tailLines = 2000

// Options configure Run.
type Options struct {
	// Client is the control API of the running prox.
	Client *control.Client
	// Color colours the UI (false with NO_COLOR or -no-color).
	Color bool
	// Input and Output are the terminal; nil: stdin and stdout.
	Input  io.Reader
	Output io.Writer
	// Interrupt, when set (prox up -tui), makes quitting ask, then call
	// it to stop every process; the UI exits once prox has stopped.
	Interrupt func()
}

// Result says how the UI ended.
type Result struct {
	// ProxStopped is set when prox stopped (or began to) while the UI was
	// open; otherwise the user quit.
	ProxStopped bool
}

// Run runs the UI until the user quits or prox stops. It first reads the
// processes once: with no prox on the socket it returns that error
// (control.ErrNoServer) before touching the terminal.
func Run(parent context.Context, opts Options) (Result, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	ps, err := opts.Client.Processes(ctx)
	if err != nil {
		return Result{}, err
	}
	var progOpts []tea.ProgramOption
	progOpts = append(progOpts, tea.WithContext(ctx), tea.WithAltScreen(), tea.WithFPS(FPS))
	if opts.Interrupt != nil {
		// prox up -tui: SIGTERM and SIGHUP are prox's, which stops every
		// process; the UI ends when prox has stopped.
		progOpts = append(progOpts, tea.WithoutSignalHandler())
	}
	var out io.Writer
	if opts.Input != nil {
		progOpts = append(progOpts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		out = opts.Output
		progOpts = append(progOpts, tea.WithOutput(opts.Output))
	}
	var renderer *lipgloss.Renderer
	if out != nil {
		renderer = lipgloss.NewRenderer(out)
	}
	feed := newLogFeed(opts.Client)
	model := NewModel(Config{
		Actions:   opts.Client,
		Color:     opts.Color,
		Renderer:  renderer,
		Interrupt: opts.Interrupt,
		Follow:    feed.follow,
		Take:      feed.take,
	})
	model.setProcesses(ps)
	p := tea.NewProgram(model, progOpts...)
	var wg sync.WaitGroup
	refresh := make(chan struct{}, 1)
	wg.Add(4)
	go func() { defer wg.Done(); feed.run(ctx) }()
	go func() { defer wg.Done(); feed.pump(ctx, p.Send) }()
	go func() { defer wg.Done(); followEvents(ctx, opts.Client, p.Send, refresh) }()
	go func() { defer wg.Done(); poll(ctx, opts.Client, p.Send, refresh) }()
	_, err = p.Run()
	cancel()
	wg.Wait()
	if errors.Is(err, tea.ErrProgramKilled) && model.gone {
		err = nil
	}
	if errors.Is(err, tea.ErrProgramKilled) && parent.Err() != nil {
		err = nil // the caller's context ended the UI
	}
	if errors.Is(err, tea.ErrInterrupted) {
		err = nil // SIGINT from outside (a key ctrl+c is q): a quit
	}
	return Result{ProxStopped: model.gone}, err
}

// poll reads the processes once a second, and at once when an event asks
// for it, and their CPU time and memory from prox's /metrics.
func poll(ctx context.Context, c *control.Client, send func(tea.Msg), refresh <-chan struct{}) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	polls := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-refresh:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ps, err := c.Processes(rctx)
		msg := processesMsg{ps: ps, err: err}
		if polls++; err == nil && polls%usageEvery == 1 {
			if text, merr := c.Metrics(rctx); merr == nil {
				msg.u = parseUsage(text)
			}
			msg.at = time.Now()
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		send(msg)
	}
}

// followEvents sends each event to the model and asks the poller for a
// fresh table; when the stream ends (prox stops), it says prox is gone.
func followEvents(ctx context.Context, c *control.Client, send func(tea.Msg), refresh chan<- struct{}) {
	for ctx.Err() == nil {
		s, err := c.FollowEvents(ctx)
		if err != nil {
			if errors.Is(err, control.ErrNoServer) {
				send(proxGoneMsg{})
				return
			}
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		for {
			ev, err := s.Next()
			if err != nil {
				break
			}
			send(eventMsg(ev))
			select {
			case refresh <- struct{}{}:
			default:
			}
		}
		_ = s.Close()
		if ctx.Err() != nil {
			return
		}
		// The server ended the stream: prox is stopping, or gone.
		send(proxGoneMsg{})
		return
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logFeed follows the output the log pane shows and keeps the lines that
// came since the model last took them: at most maxLogLines, the newest
// (the pane keeps no more). It tells the model at most once a frame, and
// not again before the model took them, so a flood of lines costs one
// message, one update and one render a frame.
type logFeed struct {
	client *control.Client

	mu      sync.Mutex
	target  string
	gen     uint64 // changes with target; a stream of an older one stops
	pending []control.LogLine
	spare   []control.LogLine
	dropped uint64
	told    bool // the pump was told of lines the model has not taken
	wake    chan struct{}
	ready   chan struct{}
	room    chan struct{} // take made room
}

func newLogFeed(c *control.Client) *logFeed {
	return &logFeed{client: c, wake: make(chan struct{}, 1), ready: make(chan struct{}, 1), room: make(chan struct{}, 1)}
}

// follow switches the feed to a process's output ("" for all). Called
// from Update: it only records the wish.
func (f *logFeed) follow(target string) {
	f.mu.Lock()
	f.target = target
	f.gen++
	f.pending = f.pending[:0]
	f.dropped = 0
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// take hands the pending lines to the model.
func (f *logFeed) take() ([]control.LogLine, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	lines, dropped := f.pending, f.dropped
	// The model keeps copies of what it needs (the ring), so the slice
	// it got comes back as the next pending one.
	f.pending, f.spare = f.spare[:0], lines
	f.dropped, f.told = 0, false
	select {
	case f.room <- struct{}{}:
	default:
	}
	return lines, dropped
}

// frameLines is how many lines the feed reads for one frame: more would
// be decoded only to scroll out of the pane at once. Past it, the reader
// waits for the model to take them, and prox drops what this follower
// does not read, and says how many (the pane's "lines skipped"), which
// costs prox and the UI far less than sending and decoding each line.
const frameLines = 2000

// waitRoom waits until the feed holds fewer than frameLines lines; false
// when ctx ended first.
func (f *logFeed) waitRoom(ctx context.Context) bool {
	for {
		f.mu.Lock()
		full := len(f.pending) >= frameLines
		f.mu.Unlock()
		if !full {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-f.room:
		}
	}
}

// put adds a stream's message if the stream is still the wanted one.
func (f *logFeed) put(gen uint64, msg control.FollowMessage) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen != f.gen {
		return false
	}
	if msg.Line != nil {
		if len(f.pending) >= 2*maxLogLines {
			// Lines the pane could only have kept for scrolling back,
			// and would not have: keep the newest.
			n := copy(f.pending, f.pending[len(f.pending)-maxLogLines:])
			f.dropped += uint64(len(f.pending) - n)
			f.pending = f.pending[:n]
		}
		f.pending = append(f.pending, *msg.Line)
	}
	f.dropped += msg.Dropped
	if !f.told {
		f.told = true
		select {
		case f.ready <- struct{}{}:
		default:
		}
	}
	return true
}

// run opens a stream for each target the model asks for.
func (f *logFeed) run(ctx context.Context) {
	var stop context.CancelFunc = func() {}
	defer func() { stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
			stop()
			f.mu.Lock()
			target, gen := f.target, f.gen
			f.mu.Unlock()
			sctx, cancel := context.WithCancel(ctx)
			stop = cancel
			go f.read(sctx, target, gen)
		}
	}
}

// pump tells the model that lines wait, at most once a frame, and not
// again before the model took them: however many lines come, the model
// gets at most FPS messages a second for them. An idle feed wakes nothing.
func (f *logFeed) pump(ctx context.Context, send func(tea.Msg)) {
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.ready:
		}
		if d := frame - time.Since(last); d > 0 && !sleep(ctx, d) {
			return
		}
		last = time.Now()
		send(logsReadyMsg{})
	}
}

// read follows one target until its context ends.
func (f *logFeed) read(ctx context.Context, target string, gen uint64) {
	q := control.LogQuery{Limit: tailLines}
	if target != "" {
		q.Processes = []string{target}
	}
	for ctx.Err() == nil {
		s, err := f.client.FollowLogs(ctx, q)
		if err != nil {
			if !sleep(ctx, time.Second) {
				return
			}
			continue
		}
		go func() { <-ctx.Done(); _ = s.Close() }()
		for {
			msg, err := s.Next()
			if err != nil {
				return // the stream ended: prox stops, or the target changed
			}
			if !f.put(gen, msg) || !f.waitRoom(ctx) {
				return
			}
		}
	}
}
