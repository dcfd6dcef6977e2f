package file

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/prox-dev/prox/sdk"
)

// The test binary doubles as the file sink's plugin process: with
// pluginEnv set, TestMain serves the sink instead of running the tests.
const (
	pluginEnv = "PROX_FILE_SINK_TEST_PLUGIN"
	// killEnv, "SEQ:BYTES:FILE", makes the plugin SIGKILL itself once it
	// has written BYTES bytes of batch SEQ to its log files (-1: as the
	// Write begins, before anything), if FILE exists; it removes FILE first, so that the plugin relaunched in its
	// place does not do it again. Test binary only: the sink has no such
	// switch.
	killEnv = "PROX_FILE_SINK_TEST_KILL"
)

func TestMain(m *testing.M) {
	if os.Getenv(pluginEnv) != "" {
		os.Exit(servePlugin())
	}
	code := m.Run()
	plugin.CleanupClients()
	os.Exit(code)
}

// servePlugin serves the file sink, with the kill of killEnv.
func servePlugin() int {
	s := New()
	var sink sdk.Sink = s
	if spec := os.Getenv(killEnv); spec != "" {
		k, err := parseKill(spec)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		s.writeFile = k.write
		sink = &killingSink{Sink: s, kill: k}
	}
	cfg := &sdk.ServeConfig{Name: "file-sink-test", Version: "test", Sinks: map[string]sdk.Sink{Name: sink}}
	if err := sdk.ServeComponent(cfg, sdk.KindSink, Name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// killer kills the process part way through a batch's writes.
type killer struct {
	seq   uint64
	after int64
	file  string

	mu    sync.Mutex
	armed bool
	left  int64
}

func parseKill(spec string) (*killer, error) {
	f := strings.SplitN(spec, ":", 3)
	if len(f) != 3 {
		return nil, fmt.Errorf("%s: want SEQ:BYTES:FILE, got %q", killEnv, spec)
	}
	seq, err1 := strconv.ParseUint(f[0], 10, 64)
	after, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("%s: want SEQ:BYTES:FILE, got %q", killEnv, spec)
	}
	return &killer{seq: seq, after: after, file: f[2]}, nil
}

// begin arms the killer for batch seq, if it is the one and the file
// says this plugin is the one to die.
func (k *killer) begin(seq uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if seq != k.seq {
		k.armed = false
		return
	}
	if _, err := os.Stat(k.file); err != nil {
		return
	}
	k.armed, k.left = true, k.after
	if k.after < 0 {
		k.die()
	}
}

func (k *killer) write(f *os.File, p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.armed {
		return f.Write(p)
	}
	if int64(len(p)) < k.left {
		n, err := f.Write(p)
		k.left -= int64(n)
		return n, err
	}
	_, _ = f.Write(p[:k.left])
	k.die()
	return 0, nil // not reached
}

// die removes the file and SIGKILLs the process: no deferred function,
// no buffer written out, as when the kernel or a user kills it.
func (k *killer) die() {
	_ = os.Remove(k.file)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// killingSink is the file sink with a killer armed at each Write.
type killingSink struct {
	*Sink
	kill *killer
}

func (s *killingSink) Write(ctx context.Context, b *sdk.Batch) error {
	s.kill.begin(b.Seq)
	return s.Sink.Write(ctx, b)
}
