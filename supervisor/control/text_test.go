package control

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestExitText(t *testing.T) {
	var none *Exit
	assert.Equal(t, "-", none.Text())
	assert.Equal(t, "exit 0", (&Exit{}).Text())
	assert.Equal(t, "exit 3", (&Exit{Code: 3}).Text())
	assert.Equal(t, "SIGTERM", (&Exit{Code: -1, Signal: "SIGTERM"}).Text())
	assert.Equal(t, "plugin died", (&Exit{Code: -1, RunnerDied: true}).Text(), "not exit -1")
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		45*time.Second + 900*time.Millisecond: "45s",
		3*time.Minute + 12*time.Second:        "3m12s",
		2*time.Hour + 5*time.Minute + 59*time.Second: "2h05m",
		76 * time.Hour: "3d04h",
	} {
		assert.Equal(t, want, DurationText(d), "%s", d)
	}
}

// A run ended by its runner plugin's death shows so in prox ps, top and
// down, not as "exit -1".
func TestProcessFromSaysTheRunnerDied(t *testing.T) {
	p := ProcessFrom(supervisor.ProcessInfo{Name: "a", State: supervisor.StateBackoff, LastExit: &supervisor.ExitStatus{
		Code: -1, Error: "its plugin died: wait: plugin unavailable", RunnerDied: true,
	}})
	require.NotNil(t, p.LastExit)
	assert.True(t, p.LastExit.RunnerDied)
	assert.Equal(t, "plugin died", p.LastExit.Text())
}
