package sdktest

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunnerSuiteThroughHarness(t *testing.T) {
	RunnerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{} }, RunnerSuiteOptions{})
}

func TestRunnerSuiteDirect(t *testing.T) {
	RunnerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{} }, RunnerSuiteOptions{Direct: true})
}

func TestExecerSuiteThroughHarness(t *testing.T) {
	ExecerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{} }, ExecerSuiteOptions{HostProcesses: true})
}

func TestExecerSuiteDirect(t *testing.T) {
	ExecerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{} }, ExecerSuiteOptions{HostProcesses: true, Direct: true})
}

func TestSinkSuiteThroughHarness(t *testing.T) {
	SinkSuite(t, func(*testing.T) sdk.Sink { return &memSink{} }, SinkSuiteOptions{
		Read: readMem, ReadEvents: readMemEvents, Fields: FieldProcess | FieldStream | FieldTimestamp,
	})
}

func TestSinkSuiteDirect(t *testing.T) {
	SinkSuite(t, func(*testing.T) sdk.Sink { return &memSink{} }, SinkSuiteOptions{
		Read: readMem, ReadEvents: readMemEvents, Fields: FieldProcess | FieldStream | FieldTimestamp, Direct: true,
	})
}

func TestSinkSuiteWithoutReadBack(t *testing.T) {
	SinkSuite(t, func(*testing.T) sdk.Sink { return &memSink{} }, SinkSuiteOptions{})
}

// brokenEnv names the flaw TestBrokenComponent runs the suites against.
const brokenEnv = "SDKTEST_BROKEN"

// TestBrokenComponent runs only in the subprocess that
// TestSuitesCatchBrokenComponents starts: it runs a suite against a
// component with one flaw, which must fail.
func TestBrokenComponent(t *testing.T) {
	flaw := os.Getenv(brokenEnv)
	if flaw == "" {
		t.Skip("run by TestSuitesCatchBrokenComponents")
	}
	timeout := 3 * time.Second
	switch flaw {
	case "leader-only":
		RunnerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{leaderOnly: true} }, RunnerSuiteOptions{Timeout: timeout})
	case "keep-group":
		RunnerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{keepGroup: true} }, RunnerSuiteOptions{Timeout: timeout})
	case "exit-one":
		RunnerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{exitOne: true} }, RunnerSuiteOptions{Timeout: timeout})
	case "exec-leave":
		ExecerSuite(t, func(*testing.T) sdk.Runner { return &localRunner{execLeave: true} }, ExecerSuiteOptions{HostProcesses: true, Timeout: timeout})
	case "reverse", "mangle", "lose-on-close", "wrong-exit":
		SinkSuite(t, func(*testing.T) sdk.Sink {
			return &memSink{reverse: flaw == "reverse", mangle: flaw == "mangle", loseOnClose: flaw == "lose-on-close", wrongExit: flaw == "wrong-exit"}
		}, SinkSuiteOptions{Read: readMem, ReadEvents: readMemEvents, Timeout: timeout})
	default:
		t.Fatalf("unknown flaw %q", flaw)
	}
}

// TestSuitesCatchBrokenComponents checks that each suite check fails for a
// component with the flaw it is about, and only the checks concerned.
func TestSuitesCatchBrokenComponents(t *testing.T) {
	tests := []struct {
		flaw   string
		failed []string
		passed []string
	}{
		{"leader-only", []string{"SignalsReachTheGroup"}, []string{"OutputIntactAndSeparated", "ExitCode", "NoLeftoverProcess"}},
		{"keep-group", []string{"NoLeftoverProcess"}, []string{"OutputIntactAndSeparated", "SignalsReachTheGroup", "StopEscalation"}},
		{"exit-one", []string{"ExitCode"}, []string{"OutputIntactAndSeparated", "SignalsReachTheGroup", "NoLeftoverProcess"}},
		{"exec-leave", []string{"ContextEnds"}, []string{"ExitCodesAndOutput", "DirAndEnv", "Concurrent", "OutputCapped", "AfterExit"}},
		{"reverse", []string{"BatchesInOrderAndAcknowledged", "TenThousandEntriesIntact", "FlushThenClose"}, nil},
		{"mangle", []string{"TenThousandEntriesIntact"}, []string{"BatchesInOrderAndAcknowledged", "FlushThenClose"}},
		{"lose-on-close", []string{"FlushThenClose"}, []string{"BatchesInOrderAndAcknowledged", "TenThousandEntriesIntact"}},
		{"wrong-exit", []string{"EventsDelivered"}, []string{"BatchesInOrderAndAcknowledged", "FlushThenClose"}},
	}
	for _, tt := range tests {
		t.Run(tt.flaw, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenComponent$", "-test.v", "-test.count=1")
			cmd.Env = append(os.Environ(), brokenEnv+"="+tt.flaw)
			// A group of its own, killed at the end: what a flawed
			// component leaves running goes with it.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if cmd.Process != nil {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			}
			text := out.String()
			require.Error(t, err, "the suite passed a component with the flaw %q:\n%s", tt.flaw, text)
			for _, name := range tt.failed {
				assert.Contains(t, text, "--- FAIL: TestBrokenComponent/"+name+" ", "%s should fail", name)
			}
			for _, name := range tt.passed {
				assert.Contains(t, text, "--- PASS: TestBrokenComponent/"+name+" ", "%s should pass", name)
			}
			if t.Failed() {
				t.Log(lastLines(text, 60))
			}
		})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
