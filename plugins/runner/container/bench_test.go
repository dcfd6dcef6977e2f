package container

import (
	"bytes"
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

// benchLines is the number of lines of the throughput benchmark; each is 64
// bytes with its newline.
const benchLines = 100000

const benchLine = "a line of output, sixty-four bytes long with its newline........"

// benchRunners are the runners compared: the container runner (with no
// network, and on the engine's default bridge network) and the exec runner,
// both called in process.
func benchRunners(b *testing.B) map[string]func(command []string) (sdk.Runner, *sdk.ProcessConfig) {
	return map[string]func([]string) (sdk.Runner, *sdk.ProcessConfig){
		"exec": func(command []string) (sdk.Runner, *sdk.ProcessConfig) {
			r := execrunner.New()
			b.Cleanup(func() { _ = r.Shutdown() })
			return r, &sdk.ProcessConfig{Name: "bench", Command: command, Env: []string{"PATH=" + os.Getenv("PATH")}}
		},
		"container": func(command []string) (sdk.Runner, *sdk.ProcessConfig) {
			return newRunner(b), processConfig(b, command, nil)
		},
		"container-bridge": func(command []string) (sdk.Runner, *sdk.ProcessConfig) {
			return newRunner(b), processConfig(b, command, map[string]any{"network": nil})
		},
	}
}

// BenchmarkStartToFirstOutput measures the time from Start to the first
// byte of output of a process that prints one line and keeps running.
func BenchmarkStartToFirstOutput(b *testing.B) {
	for _, name := range []string{"exec", "container", "container-bridge"} {
		b.Run(name, func(b *testing.B) {
			r, cfg := benchRunners(b)[name](sh("echo first; exec sleep 1000"))
			buf := make([]byte, 64)
			for b.Loop() {
				p, err := r.Start(context.Background(), cfg)
				require.NoError(b, err)
				go func() { _, _ = io.Copy(io.Discard, p.Stderr()) }()
				n, err := p.Stdout().Read(buf)
				require.NoError(b, err)
				require.Positive(b, n)

				b.StopTimer()
				require.NoError(b, p.Signal(syscall.SIGKILL))
				_, _ = io.Copy(io.Discard, p.Stdout())
				require.Error(b, p.Wait())
				b.StartTimer()
			}
		})
	}
}

// BenchmarkThroughput100kLines measures a run that writes 100,000 lines
// (6.4 MB) to stdout: ns/op and MB/s are from Start until Wait returned
// (the container's start and removal included); transfer-MB/s and
// transfer-lines/s are from the first byte of output to the end of it.
func BenchmarkThroughput100kLines(b *testing.B) {
	want := int64(benchLines * len(benchLine+"\n"))
	for _, name := range []string{"exec", "container"} {
		b.Run(name, func(b *testing.B) {
			r, cfg := benchRunners(b)[name](sh("yes '" + benchLine + "' | head -n 100000"))
			b.SetBytes(want)
			var transfer time.Duration
			for b.Loop() {
				p, err := r.Start(context.Background(), cfg)
				require.NoError(b, err)
				errOut := collect(p.Stderr())
				lines, n, took, err := countLines(p.Stdout())
				require.NoError(b, err)
				transfer += took
				require.Equal(b, int64(benchLines), lines)
				require.Equal(b, want, n)
				require.Empty(b, errOut.all(b))
				require.NoError(b, p.Wait())
			}
			b.ReportMetric(float64(want)*float64(b.N)/transfer.Seconds()/1e6, "transfer-MB/s")
			b.ReportMetric(float64(benchLines)*float64(b.N)/transfer.Seconds(), "transfer-lines/s")
		})
	}
}

// countLines reads r to EOF and returns its lines and bytes, and the time
// from the first byte to the end.
func countLines(r io.Reader) (lines, n int64, took time.Duration, err error) {
	buf := make([]byte, 256<<10)
	var first time.Time
	for {
		k, err := r.Read(buf)
		if k > 0 && first.IsZero() {
			first = time.Now()
		}
		n += int64(k)
		lines += int64(bytes.Count(buf[:k], []byte("\n")))
		if err == io.EOF {
			return lines, n, time.Since(first), nil
		}
		if err != nil {
			return lines, n, 0, err
		}
	}
}
