package pluginhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestOutputStreamedWhenTheHandoverFails(t *testing.T) {
	_, s := runnerConn(t, &pipeRunner{})
	conn := s.rpc.Conn
	client := proto.NewRunnerClient(conn)
	_, err := client.Signal(context.Background(), &proto.SignalRequest{Handle: "none", Signal: "SIGTERM"})
	require.Error(t, err) // the connection is up: its descriptors count from here
	handovers.listen()
	fds := openFDs(t)
	// An offer the host never made: the host does not answer it.
	forged := &proto.OutputHandover{Socket: handovers.addr, Token: make([]byte, wire.HandoverTokenSize)}
	_, _ = rand.Read(forged.Token)
	resp, err := client.Start(context.Background(), &proto.StartRequest{Name: "p", Command: toBytes([]string{"sh", "-c", "echo streamed"}), OutputHandover: forged})
	require.NoError(t, err)
	assert.False(t, resp.OutputHandedOver)

	stream, err := client.Output(context.Background(), &proto.OutputRequest{Handle: resp.Handle})
	require.NoError(t, err)
	var got bytes.Buffer
	for {
		c, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got.Write(c.Data)
	}
	assert.Equal(t, "streamed\n", got.String())
	_, err = client.Wait(context.Background(), &proto.WaitRequest{Handle: resp.Handle})
	require.NoError(t, err)
	// The descriptors the host was sent and refused are closed, and so is
	// the hand-over's connection.
	require.Eventually(t, func() bool { return openFDs(t) <= fds }, testTimeout, 10*time.Millisecond)
}

func TestBusyPipeGrows(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	pr := &pipeReader{f: r}
	buf := make([]byte, 256<<10)
	chunk := bytes.Repeat([]byte("y"), defaultPipeSize)
	before := bigPipes.Load()
	for i := range growFullReads {
		assert.Equal(t, defaultPipeSize, pipeSize(t, r), "not grown after %d full reads", i)
		// The whole chunk fits the empty pipe: the read finds it full.
		_, err := w.Write(chunk)
		require.NoError(t, err)
		n, err := io.ReadFull(pr, buf[:defaultPipeSize])
		require.NoError(t, err)
		require.Equal(t, defaultPipeSize, n)
	}
	assert.Equal(t, bigPipeSize, pipeSize(t, r), "grown once found full %d times", growFullReads)
	assert.Equal(t, before+1, bigPipes.Load())
	require.NoError(t, w.Close())
	_, err = io.ReadAll(pr)
	require.NoError(t, err)
	assert.Equal(t, before, bigPipes.Load(), "a closed pipe no longer counts")
}

func TestQuietPipeKeepsItsSize(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer w.Close()
	pr := &pipeReader{f: r}
	buf := make([]byte, 64<<10)
	for range 10 {
		_, err := w.Write([]byte("a short line\n"))
		require.NoError(t, err)
		_, err = pr.Read(buf)
		require.NoError(t, err)
	}
	assert.Equal(t, defaultPipeSize, pipeSize(t, r))
	require.NoError(t, w.Close())
	_, err = io.ReadAll(pr)
	require.NoError(t, err)
}

func pipeSize(t *testing.T, f *os.File) int {
	t.Helper()
	n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
	require.NoError(t, err)
	return n
}

// openFDs counts the test process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(entries)
}

func TestHandedOverOutputEndsWithThePluginsDeath(t *testing.T) {
	// As with streamed output: when the plugin dies, the streams end
	// with ErrPluginUnavailable, not a clean EOF.
	c, s := runnerConn(t, &pipeRunner{})
	p, err := c.Start(context.Background(), &sdk.ProcessConfig{Name: "orphan", Command: []string{"sh", "-c", "echo started; exec sleep 60"}})
	require.NoError(t, err)
	require.IsType(t, &pipeReader{}, p.(*processClient).stdout)
	first := make([]byte, len("started\n"))
	_, err = io.ReadFull(p.Stdout(), first)
	require.NoError(t, err)
	require.Equal(t, "started\n", string(first))
	out, errOut := readAllAsync(p.Stdout()), readAllAsync(p.Stderr())

	s.kill() // the plugin is gone; its child dies with it (the sdk kills it)
	_ = syscall.Kill(p.PID(), syscall.SIGKILL)

	got, err := await(t, out, "stdout")
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	assert.Empty(t, got)
	_, err = await(t, errOut, "stderr")
	require.ErrorIs(t, err, sdk.ErrPluginUnavailable)
	require.ErrorIs(t, p.Wait(), sdk.ErrPluginUnavailable)
}

func TestWaitReadableReturnsForDataAlreadyThereLaterAndAtEOF(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	// A non-blocking descriptor of its own, in Go's poller, as a
	// handed-over pipe is.
	fd, err := syscall.Dup(int(r.Fd()))
	require.NoError(t, err)
	require.NoError(t, r.Close())
	require.NoError(t, syscall.SetNonblock(fd, true))
	pr := &pipeReader{f: os.NewFile(uintptr(fd), "r")}
	defer pr.f.Close()

	assert.False(t, pr.Readable(), "an empty pipe")
	// Data written before the wait: no new event will come; it must be seen.
	_, err = w.Write([]byte("early\n"))
	require.NoError(t, err)
	assert.True(t, pr.Readable())
	require.NoError(t, pr.WaitReadable())
	buf := make([]byte, 64)
	n, err := pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "early\n", string(buf[:n]))

	// Data written while waiting wakes the waiter.
	done := make(chan error, 1)
	go func() { done <- pr.WaitReadable() }()
	_, err = w.Write([]byte("later\n"))
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("WaitReadable did not return after a write")
	}
	n, err = pr.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "later\n", string(buf[:n]))

	// The writer's end closing is readable too (EOF).
	go func() { done <- pr.WaitReadable() }()
	require.NoError(t, w.Close())
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(testTimeout):
		t.Fatal("WaitReadable did not return at EOF")
	}
	assert.True(t, pr.Readable(), "the end is readable")
	_, err = pr.Read(buf)
	assert.ErrorIs(t, err, io.EOF)
}

// The host gives up on handed-over pipes that a process's descendant keeps
// open after the exit: a blocked read returns ErrOutputClosed at once and
// the pipes are closed.
func TestCloseOutputAbandonsHandedOverPipes(t *testing.T) {
	runner, _ := runnerConn(t, &pipeRunner{})
	p, err := runner.Start(context.Background(), &sdk.ProcessConfig{Name: "esc", Command: []string{"sh", "-c", "sleep 3600 & echo $!; exit 3"}})
	require.NoError(t, err)
	pc := p.(*processClient)
	require.IsType(t, &pipeReader{}, pc.stdout)
	line, err := await(t, async(func() (string, error) { return bufio.NewReader(p.Stdout()).ReadString('\n') }), "the descendant's PID")
	require.NoError(t, err)
	descendant, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(descendant, syscall.SIGKILL) })

	var exitErr *sdk.ExitError
	require.ErrorAs(t, p.Wait(), &exitErr)
	assert.Equal(t, 3, exitErr.Code)
	out, errOut := readAllAsync(p.Stdout()), readAllAsync(p.Stderr())
	p.(sdk.OutputCloser).CloseOutput()
	_, err = await(t, out, "stdout")
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
	_, err = await(t, errOut, "stderr")
	require.ErrorIs(t, err, sdk.ErrOutputClosed)
	for _, r := range []io.Reader{pc.stdout, pc.stderr} {
		assert.Equal(t, ^uintptr(0), r.(*pipeReader).f.Fd(), "the pipe is closed")
	}
	assert.NoError(t, syscall.Kill(descendant, 0), "the descendant still holds the pipes: they did not end by themselves")
}
