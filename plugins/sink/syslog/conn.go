package syslog

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Largest datagrams: 2048 bytes for UDP, which every receiver must accept
// (RFC 5426, section 3.2); for a unix socket, a size well under the
// kernel's default socket buffer, larger than any line prox frames.
const (
	maxUDPMessage  = 2048
	maxUnixMessage = 96 << 10
)

// chunkSize is about how many bytes of frames a stream connection writes
// at once.
const chunkSize = 64 << 10

// conn is one connection to the server.
type conn struct {
	nc net.Conn
	// tcp is the TCP connection under nc for tcp and tls, nil otherwise.
	tcp *net.TCPConn
	// gone is set when the server has closed a stream connection.
	gone atomic.Bool
	buf  []byte
}

// maxMessage returns the transport's largest message, 0 for no limit.
func maxMessage(transport string) int {
	switch transport {
	case transportUDP:
		return maxUDPMessage
	case transportUnix:
		return maxUnixMessage
	}
	return 0
}

// dial connects to the server of c within ctx, the TLS handshake
// included. For stream transports, onGone is called (from another
// goroutine) when the server closes the connection.
func dial(ctx context.Context, c *config, onGone func()) (*conn, error) {
	d := &net.Dialer{}
	var nc net.Conn
	var err error
	switch c.transport {
	case transportUDP:
		nc, err = d.DialContext(ctx, "udp", c.dialAddr)
	case transportUnix:
		nc, err = d.DialContext(ctx, "unixgram", c.dialAddr)
	case transportTCP:
		nc, err = d.DialContext(ctx, "tcp", c.dialAddr)
	case transportTLS:
		nc, err = (&tls.Dialer{NetDialer: d, Config: c.tls}).DialContext(ctx, "tcp", c.dialAddr)
	default:
		err = fmt.Errorf("unknown transport %q", c.transport)
	}
	if err != nil {
		return nil, err
	}
	if selfConnected(nc) {
		_ = nc.Close()
		return nil, fmt.Errorf("no server at %s: the connection reached itself", c.dialAddr)
	}
	cn := &conn{nc: nc}
	switch t := nc.(type) {
	case *net.TCPConn:
		cn.tcp = t
	case *tls.Conn:
		cn.tcp, _ = t.NetConn().(*net.TCPConn)
	}
	if cn.tcp != nil {
		// A syslog server sends nothing but TLS records: reading is only a
		// way to learn that it has closed the connection.
		go func() {
			_, _ = io.Copy(io.Discard, nc)
			cn.gone.Store(true)
			onGone()
		}()
	}
	return cn, nil
}

// selfConnected reports whether nc is connected to itself. Dialing a
// loopback port on which nothing listens can end that way when the port
// lies in the ephemeral range: the kernel picks that very port as the
// local end and the connection opens onto itself (TCP's simultaneous
// open, or a UDP socket sending to its own address), so that the sink
// would write into its own socket.
func selfConnected(nc net.Conn) bool {
	local, remote := nc.LocalAddr(), nc.RemoteAddr()
	return local != nil && remote != nil && local.Network() == remote.Network() &&
		local.String() != "" && local.String() == remote.String()
}

// alive reports whether the server may still read what is written: false
// once it has closed a stream connection.
func (c *conn) alive() bool {
	if c.gone.Load() {
		return false
	}
	return c.tcp == nil || tcpEstablished(c.tcp)
}

// write sends msgs in order, each with its framing, every write bounded by
// timeout. It returns how many messages were written whole before an
// error.
func (c *conn) write(msgs [][]byte, timeout time.Duration) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	if c.tcp == nil {
		// A datagram per message.
		for i, m := range msgs {
			if _, err := c.nc.Write(m); err != nil {
				return i, err
			}
		}
		return len(msgs), nil
	}
	// Octet counting (RFC 6587, section 3.4.1; RFC 5425, section 4.3):
	// "LENGTH SP MESSAGE", frames grouped into chunks.
	written, pending := 0, 0
	c.buf = c.buf[:0]
	for i, m := range msgs {
		c.buf = strconv.AppendInt(c.buf, int64(len(m)), 10)
		c.buf = append(c.buf, ' ')
		c.buf = append(c.buf, m...)
		pending++
		if len(c.buf) < chunkSize && i < len(msgs)-1 {
			continue
		}
		if written > 0 {
			if err := c.nc.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
				return written, err
			}
		}
		if _, err := c.nc.Write(c.buf); err != nil {
			return written, err
		}
		written += pending
		pending = 0
		c.buf = c.buf[:0]
	}
	if cap(c.buf) > 4*chunkSize {
		c.buf = nil
	}
	return written, nil
}

// close closes the connection.
func (c *conn) close() {
	_ = c.nc.Close()
}
