package tui

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/prox-dev/prox/supervisor/control"
)

// floodLines returns n lines of 100 bytes (S1's size) of 4 processes.
func floodLines(n int) []control.LogLine {
	lines := make([]control.LogLine, n)
	for i := range lines {
		text := fmt.Sprintf("w%d %08d ", i%4, i)
		for len(text) < 99 {
			text += "abcdefghij"
		}
		lines[i] = control.LogLine{Process: fmt.Sprintf("w%d", i%4), Stream: "stdout", Line: text[:99]}
	}
	return lines
}

func floodModel(b *testing.B) *Model {
	m := NewModel(Config{Renderer: plainRenderer(), Color: false})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	var ps []control.Process
	for i := range 4 {
		ps = append(ps, control.Process{Name: fmt.Sprintf("w%d", i), State: "running", PID: 100 + i, StartedAt: started(time.Minute)})
	}
	m.Update(processesMsg{ps: ps})
	m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{'a'}}) // every process's output
	return m
}

// BenchmarkFrame is one frame of the UI under a flood: the update that
// takes a frame's batch of lines, then the render. A batch of 2,000 is
// the most the feed reads for a frame (frameLines).
func BenchmarkFrame(b *testing.B) {
	for _, n := range []int{100, frameLines} {
		for _, mode := range []string{"plain", "search+filter+wrap"} {
			b.Run(fmt.Sprintf("lines=%d/%s", n, mode), func(b *testing.B) {
				m := floodModel(b)
				if mode != "plain" {
					m.search, _ = newMatcher("w1 0", false)
					m.logFilter, _ = newMatcher(`w[12] \d+5 `, true)
					m.wrap = true
				}
				src := floodLines(n)
				batch := make([]control.LogLine, n)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					copy(batch, src)
					m.Update(logBatchMsg{lines: batch})
					_ = m.View()
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/frame")
			})
		}
	}
}

// probe wraps the model and times how long a key takes from its Send to
// the end of the render that shows it.
type probe struct {
	*Model
	sent    atomic.Int64 // UnixNano of the key's Send
	done    chan time.Duration
	frames  atomic.Int64 // logsReadyMsg handled
	keySeen bool         // the event loop's goroutine only
}

func (p *probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg.(type) {
	case logsReadyMsg:
		p.frames.Add(1)
	case tea.KeyMsg:
		p.keySeen = true
	}
	_, cmd := p.Model.Update(msg)
	return p, cmd
}

func (p *probe) View() string {
	v := p.Model.View()
	if p.keySeen {
		p.keySeen = false
		p.done <- time.Since(time.Unix(0, p.sent.Load()))
	}
	return v
}

// BenchmarkKeyUnderFlood runs the UI's real event loop (bubbletea at 30
// frames a second, the log feed and its pump) while a goroutine puts
// lines into the feed as fast as the feed lets it (as the feed's stream
// reader puts what it decoded), and times each key from its
// Send to the end of the update and render that show it. A frame is then
// written within 1/30 s. It reports the keys' median, 99th percentile and
// worst latency, the log batches the model took per second and the lines
// the feed took per second.
func BenchmarkKeyUnderFlood(b *testing.B) {
	feed := newLogFeed(nil)
	m := NewModel(Config{Renderer: plainRenderer(), Take: feed.take, Follow: feed.follow})
	pr := &probe{Model: m, done: make(chan time.Duration, 1)}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	var ps []control.Process
	for i := range 4 {
		ps = append(ps, control.Process{Name: fmt.Sprintf("w%d", i), State: "running", PID: 100 + i, StartedAt: started(time.Minute)})
	}
	m.setProcesses(ps)
	m.logAll = true
	m.followSelected()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := tea.NewProgram(pr, tea.WithInput(nil), tea.WithOutput(io.Discard), tea.WithFPS(FPS), tea.WithoutSignalHandler(), tea.WithContext(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _, _ = prog.Run() }()
	go feed.pump(ctx, prog.Send)
	var put atomic.Int64
	src := floodLines(4000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		gen := func() uint64 {
			feed.mu.Lock()
			defer feed.mu.Unlock()
			return feed.gen
		}
		g := gen()
		for i := 0; ctx.Err() == nil; i++ {
			if !feed.put(g, control.FollowMessage{Line: &src[i%len(src)]}) {
				g = gen() // the pane follows another target: a new stream
				continue
			}
			put.Add(1)
			feed.waitRoom(ctx) // as the stream's reader does

		}
	}()
	time.Sleep(200 * time.Millisecond) // the flood is on
	var lat []time.Duration
	start, frames0, put0 := time.Now(), pr.frames.Load(), put.Load()
	keys := []rune{'j', 'k'}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pr.sent.Store(time.Now().UnixNano())
		prog.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{keys[i%2]}})
		lat = append(lat, <-pr.done)
		time.Sleep(10 * time.Millisecond) // keys at a person's fastest pace
	}
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	frames, lines := pr.frames.Load()-frames0, put.Load()-put0
	cancel()
	prog.Kill()
	wg.Wait()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
	b.ReportMetric(float64(frames)/elapsed, "batches/s")
	b.ReportMetric(float64(lines)/elapsed, "lines/s")
}
