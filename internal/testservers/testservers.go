// Package testservers starts the real servers the tests and benchmarks of
// prox talk to: a private sshd logging in a test user, a private rsyslogd,
// a Podman API service on a private storage, and Alertmanager and
// Prometheus (prometheus.go), each on loopback (or a socket in a temporary
// folder) and each stopped when the test is over.
//
// It is imported by tests only. A server whose program is missing skips
// the test (Missing), or fails it under CI=true, where nothing may be
// skipped silently.
package testservers

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitFor bounds how long a server gets to start or stop.
const waitFor = 15 * time.Second

// tick is how often a start is polled.
const tick = 10 * time.Millisecond

// Missing skips the test, or fails it under CI=true: a component the tests
// need must never be silently absent in CI.
func Missing(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg + " (CI=true: not skipping)")
	}
	tb.Skip(msg)
}

// FreePort returns a port free for both TCP and UDP on 127.0.0.1.
func FreePort(tb testing.TB) int {
	tb.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(tb, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, uerr := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		require.NoError(tb, l.Close())
		if uerr == nil {
			require.NoError(tb, u.Close())
			return port
		}
	}
	tb.Fatal("no port free for both TCP and UDP")
	return 0
}
