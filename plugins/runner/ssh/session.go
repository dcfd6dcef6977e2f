package ssh

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/prox-dev/prox/sdk"
	xssh "golang.org/x/crypto/ssh"
)

// session is one "session" channel running one command (RFC 4254 §6).
//
// It is built on the raw channel rather than on x/crypto's ssh.Session for
// two reasons: the exit status must be seen when the server sends it, not
// when the channel finally closes (a backgrounded grandchild may hold the
// output open, and only the exit status tells the runner to clean it up);
// and standard input must stay open, untouched, for the remote watchdog.
type session struct {
	ch xssh.Channel

	// inputMu serialises writes to the channel and their end: x/crypto
	// does not make them safe for concurrent use.
	inputMu     sync.Mutex
	inputClosed bool

	mu   sync.Mutex
	exit *exitStatus // set once, from exit-status or exit-signal

	exited chan struct{} // closed when exit is set
	closed chan struct{} // closed when the channel has closed
}

// exitStatus is how the remote command ended, as the server reported it.
type exitStatus struct {
	code   int
	signal string // "" or a name without "SIG", e.g. "TERM"
}

// err returns the status in the sdk's terms: nil for code 0, else an
// *sdk.ExitError.
func (e *exitStatus) err() error {
	switch {
	case e.signal != "":
		return &sdk.ExitError{Code: -1, Signal: "SIG" + e.signal}
	case e.code == 0:
		return nil
	default:
		return &sdk.ExitError{Code: e.code}
	}
}

// Wire formats of the channel requests (RFC 4254 §6.5, §6.10).
type (
	execRequest struct {
		Command string
	}
	exitStatusRequest struct {
		Status uint32
	}
	exitSignalRequest struct {
		Signal     string
		CoreDumped bool
		Error      string
		Lang       string
	}
)

// openSession opens a session channel on client and runs line in it (the
// server hands line to the login shell of the user).
func openSession(client *xssh.Client, line string) (*session, error) {
	ch, reqs, err := client.OpenChannel("session", nil)
	if err != nil {
		// OpenSSH answers "connect failed" at MaxSessions; any rejection of
		// a session channel means the same to the runner.
		var openErr *xssh.OpenChannelError
		if errors.As(err, &openErr) {
			return nil, fmt.Errorf("%w: %w", errSessionRefused, err)
		}
		return nil, fmt.Errorf("open session: %w", err)
	}
	s := &session{ch: ch, exited: make(chan struct{}), closed: make(chan struct{})}
	// The requests must be drained from now on: x/crypto blocks the whole
	// connection while a channel's request queue is full.
	go s.serve(reqs)
	ok, err := ch.SendRequest("exec", true, xssh.Marshal(&execRequest{Command: line}))
	if err == nil && !ok {
		err = errors.New("the server refused to execute a command")
	}
	if err != nil {
		_ = ch.Close()
		return nil, fmt.Errorf("exec: %w", err)
	}
	return s, nil
}

// errSessionRefused means the server refused another session on the
// connection, typically because of sshd's MaxSessions (default 10).
var errSessionRefused = errors.New("the server refused another session on the connection (sshd's MaxSessions, default 10, limits sessions per connection)")

// serve records the exit status and answers the server's other requests
// until the channel closes.
func (s *session) serve(reqs <-chan *xssh.Request) {
	defer close(s.closed)
	for req := range reqs {
		switch req.Type {
		case "exit-status":
			var m exitStatusRequest
			if xssh.Unmarshal(req.Payload, &m) == nil {
				s.setExit(&exitStatus{code: int(m.Status)})
			}
		case "exit-signal":
			var m exitSignalRequest
			if xssh.Unmarshal(req.Payload, &m) == nil {
				s.setExit(&exitStatus{code: -1, signal: strings.TrimPrefix(m.Signal, "SIG")})
			}
		}
		if req.WantReply {
			_ = req.Reply(false, nil)
		}
	}
}

func (s *session) setExit(e *exitStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exit != nil {
		return
	}
	s.exit = e
	close(s.exited)
	// The leader is gone: end standard input, so that the remote watchdog
	// kills what is left of its process group (OpenSSH does the same on
	// its side; this covers servers that do not).
	s.closeInput()
}

// closeInput ends the command's standard input (sends EOF); later calls do
// nothing.
func (s *session) closeInput() {
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if !s.inputClosed {
		s.inputClosed = true
		_ = s.ch.CloseWrite()
	}
}

// writeInput writes text to the command's standard input.
func (s *session) writeInput(text string) error {
	s.inputMu.Lock()
	defer s.inputMu.Unlock()
	if s.inputClosed {
		return errors.New("standard input is closed")
	}
	_, err := io.WriteString(s.ch, text)
	return err
}

// status returns the exit status, or nil while none was received.
func (s *session) status() *exitStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exit
}

// hasExited reports whether the exit status was received.
func (s *session) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}
