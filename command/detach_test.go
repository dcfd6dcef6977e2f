package command

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
)

func TestLogFileIsBesideTheSocket(t *testing.T) {
	assert.Equal(t, "app/.prox/prox.log", LogFile("app/.prox/prox.sock"))
	assert.Equal(t, "/run/me/ctl.log", LogFile("/run/me/ctl.sock"))
	assert.Equal(t, "/run/me/ctl.log", LogFile("/run/me/ctl"))
}

// The report of the background prox is text for the user, and a NUL once
// every process is up; wherever the reads cut it.
func TestCopyReport(t *testing.T) {
	for _, tc := range []struct {
		name, in, out string
		ready         bool
	}{
		{"up", "\x00", "", true},
		{"up after warnings", "warning: x\n\x00", "warning: x\n", true},
		{"failed", "prox up -d: bad failed to start: exited with code 7\n", "prox up -d: bad failed to start: exited with code 7\n", false},
		{"nothing: it died", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in))} {
				var out strings.Builder
				assert.Equal(t, tc.ready, copyReport(&out, r))
				assert.Equal(t, tc.out, out.String())
			}
		})
	}
}

func TestUpDetachUsageErrors(t *testing.T) {
	code, _, errOut := runCommand(t, "up", "-d", "-"+reportFDFlag, "3")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "-d and -detached-report-fd exclude each other")
	code, _, errOut = runCommand(t, "up", "-"+reportFDFlag, "1")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `invalid -detached-report-fd "1"`)
}

// With nothing on the socket, down and attach say so and exit 1.
func TestDownAndAttachWithNothingRunning(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "ctl.sock")
	code, out, errOut := runCommand(t, "down", "-socket", socket)
	assert.Equal(t, exitFailure, code)
	assert.Empty(t, out)
	assert.Equal(t, "prox is not running here: nothing listens on "+socket+", so there is nothing to stop.\n", errOut)
	code, _, errOut = runCommand(t, "attach", "-socket", socket)
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "prox is not running here: nothing listens on "+socket)
	code, _, errOut = runCommand(t, "down", "-socket", socket, "extra")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "down takes no arguments")
}
