package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mountFullTmpfs mounts a 1 MiB tmpfs and fills it: writes there fail
// with ENOSPC until the returned filler file is removed. It skips the
// test where mounting is not permitted, except under CI.
func mountFullTmpfs(t *testing.T) (dir, filler string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "small")
	require.NoError(t, os.Mkdir(dir, 0o755))
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mounting a tmpfs (for a full disk) failed: %v", err)
		}
		t.Skipf("mounting a tmpfs (for a full disk) is not permitted here: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler = filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	defer f.Close()
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			require.True(t, errors.Is(err, syscall.ENOSPC), "filling the tmpfs: %v", err)
			return dir, filler
		}
	}
}

// TestUpSinkOnAFullDiskRecovers writes to a file sink on a full tmpfs:
// the sink fails and keeps its plugin, and once space comes back it
// recovers, says so, and every line reaches the file.
func TestUpSinkOnAFullDiskRecovers(t *testing.T) {
	small, filler := mountFullTmpfs(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	const n = 2000
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "file" "small" {
  path = "%s/app.log"
}

process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt %d ]; do echo \"line $i\"; i=$((i+1)); done; echo done; exec sleep 600"]
  sinks   = ["file.small"]
}

process "idle" {
  command = ["sleep", "600"]
}
`, small, n)), 0o644))
	r := startUp(t, cfg)
	s := waitSink(t, r, cfg, "failing", func(s sinkJSON) bool { return s.State == "failing" && s.Failures >= 2 })
	assert.Contains(t, s.LastError, "no space left on device")
	sinkPlugins := pidsOf(r.marker, "plugin-serve sink file")
	require.Len(t, sinkPlugins, 1)

	// Follow the events; once the stream is surely subscribed (it shows
	// the restart of another process), give the space back.
	events := exec.Command(buildProx(t), "events", "-json", "-config", cfg)
	out, err := events.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, events.Start())
	t.Cleanup(func() { _ = events.Process.Kill(); _ = events.Wait() })
	type event struct{ Type, Process, Sink, From, To string }
	stream := make(chan event, 100)
	go func() {
		defer close(stream)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				stream <- ev
			}
		}
	}()
	next := func(what string, match func(event) bool) event {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case ev, ok := <-stream:
				require.True(t, ok, "the events stream ended before %s", what)
				if match(ev) {
					return ev
				}
			case <-timeout:
				t.Fatalf("no event: %s\nstderr:\n%s", what, r.stderrString())
			}
		}
	}
	for {
		proxCommand(t, cfg, "restart", "idle")
		select {
		case ev := <-stream:
			if ev.Process != "idle" {
				continue
			}
		case <-time.After(time.Second):
			continue // not subscribed yet: restart again
		}
		break
	}
	require.NoError(t, os.Remove(filler))
	ev := next("the sink's recovery", func(ev event) bool { return ev.Type == "sink" && ev.To == "ok" })
	assert.Equal(t, "file.small", ev.Sink)
	assert.Equal(t, "failing", ev.From)
	s = waitSink(t, r, cfg, "ok with nothing waiting", func(s sinkJSON) bool { return s.State == "ok" && s.Queued == 0 && s.Sent == n+1 })
	assert.Zero(t, s.Relaunches)
	assert.Equal(t, sinkPlugins, pidsOf(r.marker, "plugin-serve sink file"), "the sink's plugin was never relaunched")

	require.NoError(t, r.cmd.Process.Signal(os.Interrupt))
	assert.Equal(t, 0, r.wait(t), "stderr:\n%s", r.stderrString())
	assert.NotContains(t, r.stderrString(), "not delivered")
	assert.Contains(t, r.stderrString(), "sink recovered: sink=file.small")
	b, err := os.ReadFile(filepath.Join(small, "app.log"))
	require.NoError(t, err)
	var got []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		// One file for every process: "writer | line 0"; events are
		// "writer | --- prox: ...".
		line, ok := strings.CutPrefix(line, "writer | ")
		require.True(t, ok, "a line of writer: %q", line)
		if !strings.HasPrefix(line, "--- prox:") {
			got = append(got, line)
		}
	}
	want := make([]string, 0, n+1)
	for i := range n {
		want = append(want, fmt.Sprintf("line %d", i))
	}
	want = append(want, "done")
	assert.Equal(t, want, got, "every line, once, in order")
	requireNoneLeft(t, r.marker)
}
