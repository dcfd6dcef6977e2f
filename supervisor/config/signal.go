package config

import (
	"fmt"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// SignalNumber returns the signal named name. The "SIG" prefix is
// optional and case is ignored: "SIGTERM", "TERM" and "sigterm" all name
// SIGTERM. An unknown name is an error.
func SignalNumber(name string) (syscall.Signal, error) {
	canon := normalizeSignal(name)
	sig := unix.SignalNum(canon)
	if sig == 0 {
		return 0, fmt.Errorf("unknown signal %q", name)
	}
	return sig, nil
}

// CanonicalSignal returns the canonical "SIGXXX" form of a signal name
// accepted by SignalNumber.
func CanonicalSignal(name string) (string, error) {
	if _, err := SignalNumber(name); err != nil {
		return "", err
	}
	return normalizeSignal(name), nil
}

func normalizeSignal(name string) string {
	s := strings.ToUpper(strings.TrimSpace(name))
	if !strings.HasPrefix(s, "SIG") {
		s = "SIG" + s
	}
	return s
}
