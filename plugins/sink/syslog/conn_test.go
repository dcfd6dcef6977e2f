package syslog

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readFrame reads one octet-counted frame: "LENGTH SP MESSAGE".
func readFrame(r *bufio.Reader) (string, error) {
	n, err := r.ReadString(' ')
	if err != nil {
		return "", err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil {
		return "", err
	}
	b := make([]byte, size)
	_, err = io.ReadFull(r, b)
	return string(b), err
}

func TestTCPUsesOctetCounting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	c, err := parseConfig(configValues(t, map[string]any{"address": "tcp://" + l.Addr().String()}))
	require.NoError(t, err)
	cn, err := dial(context.Background(), c, func() {})
	require.NoError(t, err)
	t.Cleanup(cn.close)
	server := <-accepted
	t.Cleanup(func() { _ = server.Close() })

	// Enough messages to take several chunks, one of them with a space and
	// a newline inside (octet counting needs no escaping), one empty.
	msgs := [][]byte{[]byte("first one\nwith newline"), {}}
	for i := range 20000 {
		msgs = append(msgs, []byte("message "+strconv.Itoa(i)))
	}
	n, err := cn.write(msgs, 5*time.Second)
	require.NoError(t, err)
	assert.Equal(t, len(msgs), n)

	r := bufio.NewReader(server)
	for i, want := range msgs {
		got, err := readFrame(r)
		require.NoError(t, err, "frame %d", i)
		require.Equal(t, string(want), got, "frame %d", i)
	}
}

func TestAliveNoticesClosedServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	c, err := parseConfig(configValues(t, map[string]any{"address": "tcp://" + l.Addr().String()}))
	require.NoError(t, err)
	gone := make(chan struct{})
	cn, err := dial(context.Background(), c, func() { close(gone) })
	require.NoError(t, err)
	t.Cleanup(cn.close)
	server := <-accepted

	assert.True(t, cn.alive())
	require.NoError(t, server.Close())
	require.Eventually(t, func() bool { return !cn.alive() }, waitFor, tick)
	select {
	case <-gone:
	case <-time.After(waitFor):
		t.Fatal("onGone was not called")
	}
}

func TestSelfConnectedConnectionIsRefused(t *testing.T) {
	// A connection whose local end is the address it dials opens onto
	// itself: the kernel can pick that port for a sink dialing a server
	// that is down. It must count as no server.
	for _, network := range []string{"tcp", "udp"} {
		t.Run(network, func(t *testing.T) {
			port := freePort(t)
			addr := "127.0.0.1:" + strconv.Itoa(port)
			var local net.Addr
			if network == "tcp" {
				local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			} else {
				local = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			}
			nc, err := (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).Dial(network, addr)
			require.NoError(t, err, "a socket bound to the address it dials connects to itself")
			defer nc.Close()
			assert.True(t, selfConnected(nc))

			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			other, err := net.Dial("tcp", l.Addr().String())
			require.NoError(t, err)
			defer other.Close()
			assert.False(t, selfConnected(other), "an ordinary connection")
		})
	}
}
