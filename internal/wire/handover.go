package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/prox-dev/prox/sdk/proto"
)

// The descriptor hand-over: the host listens on a unix packet socket
// (internal/pluginhost) and names an offer by a random token; the plugin
// connects and either sends descriptors with the token (HandOver: a
// process's output pipes) or sends the token alone and receives one
// (FetchFile: the shared batch region). These are the pieces both sides
// share.

// HandoverTimeout bounds both sides of one hand-over.
const HandoverTimeout = 5 * time.Second

// HandoverTokenSize is the length of the random token naming one offer.
const HandoverTokenSize = 16

// HandoverAck is the host's one-byte answer: it holds the pipes, or here
// is the file.
const HandoverAck = 1

// ParseRights returns the descriptors of every SCM_RIGHTS message in oob.
func ParseRights(oob []byte) []int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for i := range msgs {
		got, err := syscall.ParseUnixRights(&msgs[i])
		if err == nil {
			fds = append(fds, got...)
		}
	}
	return fds
}

// CloseFDs closes descriptors that arrived unwanted.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}

// CloseFiles closes the files that are not nil.
func CloseFiles(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			_ = f.Close()
		}
	}
}

// HandOver is the plugin side of an output hand-over: it sends the read
// ends of stdout and stderr to the host named by offer and waits for the
// host's answer. On success the host holds its own copies of the pipes;
// the caller closes its own.
func HandOver(ctx context.Context, offer *proto.OutputHandover, stdout, stderr *os.File) error {
	ctx, cancel := context.WithTimeout(ctx, HandoverTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixpacket", offer.Socket)
	if err != nil {
		return fmt.Errorf("output hand-over: %w", err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("output hand-over: unexpected connection %T", conn)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = uc.SetDeadline(deadline)
	}
	if err := withFDs(stdout, stderr, func(out, errFD int) error {
		_, _, err := uc.WriteMsgUnix(offer.Token, syscall.UnixRights(out, errFD), nil)
		return err
	}); err != nil {
		return fmt.Errorf("output hand-over: send: %w", err)
	}
	var ack [1]byte
	if _, err := io.ReadFull(uc, ack[:]); err != nil {
		return fmt.Errorf("output hand-over: no answer from the host: %w", err)
	}
	if ack[0] != HandoverAck {
		return fmt.Errorf("output hand-over: unexpected answer %d", ack[0])
	}
	return nil
}

// FetchFile is the plugin side of a file offer (see ShareRequest in
// plugin.proto): it asks the host at socket for the file named by token
// and returns it.
func FetchFile(ctx context.Context, socket string, token []byte) (*os.File, error) {
	ctx, cancel := context.WithTimeout(ctx, HandoverTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unixpacket", socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("unexpected connection %T", conn)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = uc.SetDeadline(deadline)
	}
	if _, err := uc.Write(token); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	var ack [1]byte
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := uc.ReadMsgUnix(ack[:], oob)
	if err != nil {
		return nil, fmt.Errorf("no answer from the host: %w", err)
	}
	fds := ParseRights(oob[:oobn])
	if n != 1 || ack[0] != HandoverAck || flags&syscall.MSG_CTRUNC != 0 || len(fds) != 1 {
		CloseFDs(fds)
		return nil, errors.New("the host sent no file: unknown token, or offered already")
	}
	return os.NewFile(uintptr(fds[0]), "handed-over file"), nil
}

// withFDs calls fn with the descriptors of a and b, kept valid meanwhile.
// Unlike File.Fd, it leaves the files' blocking mode alone (it is shared
// with the copies the host receives).
func withFDs(a, b *os.File, fn func(fa, fb int) error) error {
	ra, err := a.SyscallConn()
	if err != nil {
		return err
	}
	rb, err := b.SyscallConn()
	if err != nil {
		return err
	}
	var fnErr error
	err = ra.Control(func(fa uintptr) {
		err := rb.Control(func(fb uintptr) { fnErr = fn(int(fa), int(fb)) })
		if fnErr == nil {
			fnErr = err
		}
	})
	if err != nil {
		return err
	}
	return fnErr
}
