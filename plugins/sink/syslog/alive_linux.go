package syslog

import (
	"encoding/binary"
	"net"
	"syscall"
)

// tcpStateEstablished is TCP_ESTABLISHED of linux/tcp_states.h.
const tcpStateEstablished = 1

// tcpEstablished reports whether c is still in the ESTABLISHED state: once
// the server has closed its end (FIN or RST received) it is not, even
// before a read or a write notices.
func tcpEstablished(c *net.TCPConn) bool {
	rc, err := c.SyscallConn()
	if err != nil {
		return false
	}
	state := -1
	cerr := rc.Control(func(fd uintptr) {
		// The first byte of struct tcp_info is tcpi_state; asking for four
		// bytes makes the kernel copy only the first four.
		v, err := syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_INFO)
		if err != nil {
			return
		}
		var b [4]byte
		binary.NativeEndian.PutUint32(b[:], uint32(v))
		state = int(b[0])
	})
	return cerr == nil && state == tcpStateEstablished
}
