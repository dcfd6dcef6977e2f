package config

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignalNumber(t *testing.T) {
	tests := []struct {
		in    string
		want  syscall.Signal
		canon string
	}{
		{"SIGTERM", syscall.SIGTERM, "SIGTERM"},
		{"TERM", syscall.SIGTERM, "SIGTERM"},
		{"sigterm", syscall.SIGTERM, "SIGTERM"},
		{"int", syscall.SIGINT, "SIGINT"},
		{"SIGKILL", syscall.SIGKILL, "SIGKILL"},
		{"hup", syscall.SIGHUP, "SIGHUP"},
		{"SIGQUIT", syscall.SIGQUIT, "SIGQUIT"},
		{"usr1", syscall.SIGUSR1, "SIGUSR1"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := SignalNumber(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			canon, err := CanonicalSignal(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.canon, canon)
		})
	}
}

func TestSignalNumberUnknown(t *testing.T) {
	for _, in := range []string{"", "SIG", "SIGNOPE", "15", "TERM2"} {
		t.Run(in, func(t *testing.T) {
			_, err := SignalNumber(in)
			assert.Error(t, err)
			_, err = CanonicalSignal(in)
			assert.Error(t, err)
		})
	}
}
