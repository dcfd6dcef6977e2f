package sdk

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SignalName returns the canonical name of sig, e.g. "SIGTERM".
func SignalName(sig os.Signal) (string, error) {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return "", fmt.Errorf("unsupported signal %v", sig)
	}
	name := unix.SignalName(s)
	if name == "" {
		return "", fmt.Errorf("unknown signal %d", int(s))
	}
	return name, nil
}

// ParseSignal returns the signal named name: "SIGTERM", "TERM" and
// "sigterm" are the same signal.
func ParseSignal(name string) (syscall.Signal, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(n, "SIG") {
		n = "SIG" + n
	}
	sig := unix.SignalNum(n)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", name)
	}
	return sig, nil
}
