package tui

import (
	"context"
	"fmt"
	"testing"

	"github.com/prox-dev/prox/supervisor/control"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lineMsg(s string) control.FollowMessage {
	return control.FollowMessage{Line: &control.LogLine{Process: "p", Stream: "stdout", Line: s}}
}

// A flood of lines is one notice to the model until it takes them all.
func TestFeedBatchesLinesUntilTaken(t *testing.T) {
	f := newLogFeed(nil)
	f.follow("p")
	<-f.wake
	for i := range 1000 {
		require.True(t, f.put(1, lineMsg(fmt.Sprint(i))))
	}
	require.Len(t, f.ready, 1, "one notice for 1000 lines")
	<-f.ready
	require.True(t, f.put(1, lineMsg("1000")))
	assert.Empty(t, f.ready, "no second notice before the model took the lines")
	lines, dropped := f.take()
	require.Len(t, lines, 1001)
	assert.Zero(t, dropped)
	assert.Equal(t, "0", lines[0].Line)
	assert.Equal(t, "1000", lines[1000].Line)
	require.True(t, f.put(1, lineMsg("next")))
	assert.Len(t, f.ready, 1, "taken: the next line is a new notice")
	lines, _ = f.take()
	assert.Equal(t, "next", lines[0].Line)
}

// The feed keeps no more than the pane can: the newest lines, counting
// the others.
func TestFeedKeepsTheNewestLinesOfAFlood(t *testing.T) {
	f := newLogFeed(nil)
	f.follow("")
	n := 5*maxLogLines + 7
	for i := range n {
		f.put(1, lineMsg(fmt.Sprint(i)))
	}
	f.put(1, control.FollowMessage{Dropped: 3})
	lines, dropped := f.take()
	assert.LessOrEqual(t, len(lines), 2*maxLogLines)
	assert.GreaterOrEqual(t, len(lines), maxLogLines)
	assert.Equal(t, fmt.Sprint(n-1), lines[len(lines)-1].Line, "the newest line is kept")
	assert.Equal(t, uint64(n-len(lines)+3), dropped, "the feed's and the server's drops are counted")
}

// A stream of the process the pane no longer shows is refused.
func TestFeedRefusesAnOldTarget(t *testing.T) {
	f := newLogFeed(nil)
	f.follow("a")
	require.True(t, f.put(1, lineMsg("a1")))
	f.follow("b")
	assert.False(t, f.put(1, lineMsg("a2")), "a's stream stops")
	assert.True(t, f.put(2, lineMsg("b1")))
	lines, _ := f.take()
	require.Len(t, lines, 1, "a's pending lines went with the switch")
	assert.Equal(t, "b1", lines[0].Line)
}

// A reader waits once a frame's lines are read, until the model takes
// them; prox drops (and counts) what it does not read meanwhile.
func TestFeedReaderWaitsForTheModelPastAFrame(t *testing.T) {
	f := newLogFeed(nil)
	f.follow("")
	for i := range frameLines - 1 {
		f.put(1, lineMsg(fmt.Sprint(i)))
	}
	assert.True(t, f.waitRoom(context.Background()), "room for one more")
	f.put(1, lineMsg("last"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, f.waitRoom(cancelled), "full: the reader would wait")
	done := make(chan bool)
	go func() { done <- f.waitRoom(context.Background()) }()
	lines, _ := f.take()
	assert.Len(t, lines, frameLines)
	assert.True(t, <-done, "the model took the lines: the reader goes on")
}
