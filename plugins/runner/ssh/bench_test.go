package ssh

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	execrunner "github.com/prox-dev/prox/plugins/runner/exec"
	"github.com/prox-dev/prox/sdk"
)

// The benchmarks compare the ssh runner, over a private sshd on loopback,
// with the exec runner as the in-process baseline. Run them with
//
//	go test -run '^$' -bench . -benchtime 20x ./plugins/runner/ssh/

const (
	benchLines    = 100_000
	benchLineSize = 100 // bytes, newline included
)

// benchRunners returns the runners to compare: the exec runner, and an
// ssh runner whose connection is already up.
func benchRunners(b *testing.B) map[string]sdk.Runner {
	b.Helper()
	srv := startSSHD(b)
	r := newTestRunner(b, srv.config(testUser))
	warm := start(b, r, &sdk.ProcessConfig{Command: []string{"true"}})
	if err := warm.wait(b); err != nil {
		b.Fatal(err)
	}
	return map[string]sdk.Runner{"exec": execrunner.New(), "ssh": r}
}

// benchEnv is the environment the processes get: the exec runner looks
// commands up in its PATH; the ssh runner leaves PATH to the remote login.
func benchEnv() []string { return []string{"PATH=" + os.Getenv("PATH")} }

// BenchmarkStartToFirstOutput measures the time from Start to the first
// byte of the process's output, over an established connection
// ("ms-to-first-output"; ns/op also counts the process's end).
func BenchmarkStartToFirstOutput(b *testing.B) {
	runners := benchRunners(b)
	for _, name := range []string{"exec", "ssh"} {
		b.Run(name, func(b *testing.B) {
			benchFirstOutput(b, func() (sdk.Runner, func()) { return runners[name], func() {} })
		})
	}
	// A fresh runner per iteration: connecting and authenticating too.
	b.Run("ssh-new-connection", func(b *testing.B) {
		srv := startSSHD(b)
		benchFirstOutput(b, func() (sdk.Runner, func()) {
			r := newTestRunner(b, srv.config(testUser))
			return r, func() { _ = r.Shutdown() }
		})
	})
}

// benchFirstOutput times Start to first output byte with the runner that
// runner returns, and calls the release function it returns afterwards.
func benchFirstOutput(b *testing.B, runner func() (sdk.Runner, func())) {
	cfg := &sdk.ProcessConfig{Name: "bench", Command: []string{"echo", "hello"}, Env: benchEnv()}
	var total time.Duration
	first := make([]byte, 1)
	for b.Loop() {
		r, release := runner()
		t0 := time.Now()
		p, err := r.Start(context.Background(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(p.Stdout(), first); err != nil {
			b.Fatal(err)
		}
		total += time.Since(t0)
		if first[0] != 'h' {
			b.Fatalf("first byte %q", first[0])
		}
		finish(b, p)
		release()
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(b.N)/1e6, "ms-to-first-output")
}

// BenchmarkThroughput100kLines reads 100,000 lines of 100 bytes from one
// process's standard output, checking that every byte arrives.
func BenchmarkThroughput100kLines(b *testing.B) {
	runners := benchRunners(b)
	line := strings.Repeat("x", benchLineSize-1)
	cfg := &sdk.ProcessConfig{
		Name:    "bench",
		Command: []string{"sh", "-c", fmt.Sprintf("yes %s | head -n %d", line, benchLines)},
		Env:     benchEnv(),
	}
	for _, name := range []string{"exec", "ssh"} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(benchLines * benchLineSize)
			buf := make([]byte, 256<<10)
			start := time.Now()
			for b.Loop() {
				p, err := runners[name].Start(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				errOut := make(chan []byte, 1)
				go func() {
					e, _ := io.ReadAll(p.Stderr())
					errOut <- e
				}()
				var n, lines int
				for {
					k, err := p.Stdout().Read(buf)
					n += k
					lines += bytes.Count(buf[:k], []byte{'\n'})
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if e := <-errOut; len(e) > 0 {
					b.Fatalf("stderr: %s", e)
				}
				if err := p.Wait(); err != nil {
					b.Fatal(err)
				}
				if n != benchLines*benchLineSize || lines != benchLines {
					b.Fatalf("got %d bytes in %d lines", n, lines)
				}
			}
			b.ReportMetric(float64(benchLines)*float64(b.N)/time.Since(start).Seconds(), "lines/s")
		})
	}
}

// finish drains p and waits for it.
func finish(b *testing.B, p sdk.Process) {
	b.Helper()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, p.Stderr())
		close(done)
	}()
	_, _ = io.Copy(io.Discard, p.Stdout())
	<-done
	if err := p.Wait(); err != nil {
		b.Fatal(err)
	}
}
