package pluginhost

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prox-dev/prox/internal/wire"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/proto"
	"golang.org/x/sys/unix"
)

// handoverHost is the host side: one listening socket per process, shared
// by every runner client, and the offers awaiting their pipes.
type handoverHost struct {
	start sync.Once
	addr  string // "" when the hand-over is unavailable
	err   error  // why it is unavailable

	mu      sync.Mutex
	pending map[string]*handoverSlot // by token
}

// handoverSlot is one offer: the pipes, once the plugin has sent them; or,
// for an offer the other way (offerFile), the file the plugin may fetch.
type handoverSlot struct {
	files []*os.File
	give  *os.File // set for an offer to the plugin
	given bool     // give was sent
}

// handovers is the process's host side, started on the first offer.
var handovers = &handoverHost{pending: map[string]*handoverSlot{}}

// listen opens the socket, once.
func (h *handoverHost) listen() {
	h.start.Do(func() {
		addr := handoverAddress()
		if addr == "" {
			h.err = errors.New("output hand-over is not supported on this system")
			return
		}
		l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: addr, Net: "unixpacket"})
		if err != nil {
			h.err = fmt.Errorf("output hand-over socket: %w", err)
			return
		}
		h.addr = addr
		go h.serve(l)
	})
}

// offer registers a new offer and returns it, or nil when the hand-over
// is unavailable. Every offer must be ended with take.
func (h *handoverHost) offer() *proto.OutputHandover {
	h.listen()
	if h.addr == "" {
		return nil
	}
	token := make([]byte, wire.HandoverTokenSize)
	_, _ = rand.Read(token) // never fails (crypto/rand)
	h.mu.Lock()
	h.pending[string(token)] = &handoverSlot{}
	h.mu.Unlock()
	return &proto.OutputHandover{Socket: h.addr, Token: token}
}

// take ends an offer and returns the pipes the plugin sent for it (stdout,
// stderr), or nils. A pipe that arrives later is closed by the listener.
func (h *handoverHost) take(o *proto.OutputHandover) (stdout, stderr *os.File) {
	if o == nil {
		return nil, nil
	}
	h.mu.Lock()
	slot := h.pending[string(o.Token)]
	delete(h.pending, string(o.Token))
	h.mu.Unlock()
	if slot == nil || len(slot.files) != 2 {
		return nil, nil
	}
	return slot.files[0], slot.files[1]
}

// offerFile registers an offer of f to a plugin (see ShareRequest) and
// returns its socket and token, or "" and nil when the hand-over is
// unavailable. The plugin may fetch f once; withdraw ends the offer. The
// caller keeps f open until then.
func (h *handoverHost) offerFile(f *os.File) (socket string, token []byte) {
	h.listen()
	if h.addr == "" {
		return "", nil
	}
	token = make([]byte, wire.HandoverTokenSize)
	_, _ = rand.Read(token) // never fails (crypto/rand)
	h.mu.Lock()
	h.pending[string(token)] = &handoverSlot{give: f}
	h.mu.Unlock()
	return h.addr, token
}

// withdraw ends an offer made by offerFile and reports whether the plugin
// fetched the file.
func (h *handoverHost) withdraw(token []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := h.pending[string(token)]
	delete(h.pending, string(token))
	return slot != nil && slot.given
}

// lookup returns the open offer named by token, or nil. h.mu is held.
func (h *handoverHost) lookup(token []byte) *handoverSlot {
	for t, slot := range h.pending {
		// Constant time: the token is the only credential.
		if subtle.ConstantTimeCompare([]byte(t), token) == 1 {
			return slot
		}
	}
	return nil
}

// claim stores files in the open offer named by token; false when there
// is none (unknown token, offer already ended or already served, or an
// offer the other way).
func (h *handoverHost) claim(token []byte, files []*os.File) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	slot := h.lookup(token)
	if slot == nil || slot.give != nil || slot.files != nil {
		return false
	}
	slot.files = files
	return true
}

// giveTo sends the file of the offerFile offer named by token over c, once.
func (h *handoverHost) giveTo(c *net.UnixConn, token []byte) {
	h.mu.Lock()
	defer h.mu.Unlock() // held while sending: withdraw waits, so f stays open
	slot := h.lookup(token)
	if slot == nil || slot.give == nil || slot.given {
		return
	}
	rc, err := slot.give.SyscallConn()
	if err != nil {
		return
	}
	var sendErr error
	if err := rc.Control(func(fd uintptr) {
		_, _, sendErr = c.WriteMsgUnix([]byte{wire.HandoverAck}, syscall.UnixRights(int(fd)), nil)
	}); err != nil || sendErr != nil {
		return
	}
	slot.given = true
}

// serve accepts hand-overs for the life of the process.
func (h *handoverHost) serve(l *net.UnixListener) {
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// EMFILE and the like: wait a little rather than spin.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go h.receive(c)
	}
}

// receive reads one hand-over: the token and two descriptors. It answers
// only when it keeps them; anything else closes what arrived.
func (h *handoverHost) receive(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wire.HandoverTimeout))
	buf := make([]byte, 2*wire.HandoverTokenSize)
	oob := make([]byte, syscall.CmsgSpace(4*4)) // room to notice extra descriptors
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return
	}
	fds := wire.ParseRights(oob[:oobn])
	if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) == 0 && n == wire.HandoverTokenSize && len(fds) == 0 {
		h.giveTo(c, buf[:n]) // a fetch (offerFile)
		return
	}
	if flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 || n != wire.HandoverTokenSize || len(fds) != 2 {
		wire.CloseFDs(fds)
		return
	}
	files := make([]*os.File, 2)
	for i, name := range []string{"stdout", "stderr"} {
		// Non-blocking, so reads go through the runtime's poller. The
		// descriptors arrived close-on-exec (Go reads with
		// MSG_CMSG_CLOEXEC), so no child of prox inherits them.
		_ = syscall.SetNonblock(fds[i], true)
		files[i] = os.NewFile(uintptr(fds[i]), "handed-over "+name)
	}
	if !h.claim(buf[:n], files) {
		wire.CloseFiles(files...)
		return
	}
	// The offer owns the files now; if this answer is lost, the plugin
	// streams and the host closes them when Start says so.
	_, _ = c.Write([]byte{wire.HandoverAck})
}

// Busy pipes get bigger: a pipe holds 64 KiB by default, so a process
// that writes faster than prox reads blocks every 64 KiB, and prox wakes up
// and reads 64 KiB at a time. Once a pipe was found full growFullReads
// times in a row, pipeReader asks Linux for bigPipeSize. Pipe capacity
// counts against a per-user limit (fs.pipe-user-pages-soft, 64 MiB by
// default, beyond which new pipes get one page), hence only busy pipes
// grow, and at most maxBigPipes at a time per prox.
const (
	defaultPipeSize = 64 << 10
	bigPipeSize     = 1 << 20
	growFullReads   = 2
	maxBigPipes     = 16
)

// bigPipes counts the grown pipes that are still open.
var bigPipes atomic.Int32

// pipeReader reads a handed-over pipe on the host. It closes the pipe at
// EOF, so a drained process leaves no descriptor behind, and keeps
// returning io.EOF afterwards. It is used by one reader at a time, and
// abandon may be called from any goroutine.
type pipeReader struct {
	f     *os.File
	eof   atomic.Bool
	close sync.Once
	// abandoned: the host gave up on the pipe (abandon); reads end with
	// ErrOutputClosed.
	abandoned atomic.Bool
	// end, when set, is called once at EOF and returns the error to report
	// instead of io.EOF (nil: io.EOF).
	end    func() error
	endErr error

	fullReads int  // consecutive reads that found the pipe full
	grown     bool // the pipe was grown (or growing was tried)
	big       bool // the pipe was grown and counts in bigPipes
}

// Read implements io.Reader.
func (r *pipeReader) Read(b []byte) (int, error) {
	if r.eof.Load() {
		return 0, r.endErr
	}
	n, err := r.f.Read(b)
	if err != nil {
		switch {
		case r.abandoned.Load():
			err = fmt.Errorf("output: %w", sdk.ErrOutputClosed)
		case errors.Is(err, os.ErrClosed):
			err = io.EOF
		}
		if errors.Is(err, io.EOF) && r.end != nil {
			if endErr := r.end(); endErr != nil {
				err = endErr
			}
		}
		r.endErr = err
		r.eof.Store(true)
		r.close.Do(func() {
			_ = r.f.Close()
			if r.big {
				bigPipes.Add(-1)
			}
		})
		return n, err
	}
	if !r.grown {
		r.maybeGrow(n)
	}
	return n, err
}

// abandon closes the pipe at once, whatever is left in it or still to
// come: a Read blocked in it returns (Go's poller wakes it), and every
// Read from now on, with ErrOutputClosed. The reading goroutine's next Read
// does the rest of the release (the count of big pipes), so no field it
// owns is touched here.
func (r *pipeReader) abandon() {
	r.abandoned.Store(true)
	_ = r.f.Close()
}

// Readable reports whether a Read would not block: data, the end of the
// pipe or an error is waiting (logs.ReadWaiter).
func (r *pipeReader) Readable() bool {
	if r.eof.Load() {
		return true
	}
	rc, err := r.f.SyscallConn()
	if err != nil {
		return false
	}
	ready := false
	_ = rc.Control(func(fd uintptr) { ready = pollIn(fd) })
	return ready
}

// WaitReadable returns once a Read would not block (logs.ReadWaiter). It
// parks the goroutine in Go's poller, holding no buffer.
func (r *pipeReader) WaitReadable() error {
	if r.eof.Load() {
		return nil
	}
	rc, err := r.f.SyscallConn()
	if err != nil {
		return err
	}
	// Asked after the poller was armed, so data arriving from now on wakes
	// the goroutine, and data already there is seen at once.
	return rc.Read(pollIn)
}

// pollIn reports whether fd is readable now (or in error: the read will
// tell).
func pollIn(fd uintptr) bool {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return err != nil || n > 0
	}
}

// maybeGrow grows the pipe after growFullReads full reads in a row.
func (r *pipeReader) maybeGrow(n int) {
	if n < defaultPipeSize {
		r.fullReads = 0
		return
	}
	if r.fullReads++; r.fullReads < growFullReads {
		return
	}
	r.grown = true
	if bigPipes.Add(1) > maxBigPipes {
		bigPipes.Add(-1)
		return
	}
	if r.big = growPipe(r.f, bigPipeSize); !r.big {
		bigPipes.Add(-1)
	}
}
