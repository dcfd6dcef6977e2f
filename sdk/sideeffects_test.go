package sdk

import (
	"context"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/internal/memtrim"
	"github.com/prox-dev/prox/sdk/proto"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/mem"
)

// freshEnv makes a test of this file run its body: the parent test runs
// the test binary again, so that the body sees a process in which nothing
// but importing the SDK has happened yet.
const freshEnv = "PROX_SDK_TEST_FRESH_PROCESS"

// inFreshProcess runs the test named name alone in a new process of the
// test binary and reports whether the caller is that process. The parent
// fails when the child does.
func inFreshProcess(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv(freshEnv) != "" {
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), freshEnv+"=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the fresh process:\n%s", out)
	require.Contains(t, string(out), "--- PASS: "+name, "the fresh process ran the test:\n%s", out)
	return false
}

// goroutinesCreatedBy returns the stacks of the goroutines that code of
// package pkg created.
func goroutinesCreatedBy(pkg string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by "+pkg+".") {
			found = append(found, g)
		}
	}
	return found
}

func TestImportingTheSDKChangesNothing(t *testing.T) {
	if !inFreshProcess(t, "TestImportingTheSDKChangesNothing") {
		return
	}
	assert.NotEqual(t, wire.BufferPool(), mem.DefaultBufferPool(), "importing the SDK leaves gRPC's default buffer pool alone")
	assert.Empty(t, goroutinesCreatedBy("github.com/prox-dev/prox/sdk"), "importing the SDK starts no goroutine")

	// A plugin that asks for the pool gets it before it serves.
	c := &ServeConfig{Name: "dbg", Version: "0.0.1", Sinks: map[string]Sink{"rec": &recordingSink{}},
		Logger: hclog.NewNullLogger(), DefaultBufferPool: true}
	ctx, cancel := context.WithCancel(context.Background())
	_, _, done := debugServer(t, ctx, c, "sink.rec") // returns once it serves
	assert.Equal(t, mem.BufferPool(wire.BufferPool()), mem.DefaultBufferPool(), "DefaultBufferPool installs the SDK's pool")
	cancel()
	require.NoError(t, awaitServe(t, done))
}

func TestReleaseMemoryOnlyWhenAsked(t *testing.T) {
	info := Info{Plugin: "p", Name: "r", Kind: KindRunner, Version: "0.0.1", APIVersions: APIVersions}
	base := func(trim *idleTrim) *baseServer {
		set, killAll := componentSet(info, newFakeRunner(t), trim)
		t.Cleanup(killAll)
		return set[pluginBase].(*basePlugin).server
	}
	assert.Nil(t, newIdleTrim(false), "by default a plugin never gives memory back")
	assert.Nil(t, base(nil).configured, "nor after its launch")

	tr := newIdleTrim(true)
	require.NotNil(t, tr, "ReleaseMemory: the plugin gives memory back once idle")
	assert.Equal(t, trimQuiet, tr.quiet)
	assert.Equal(t, reflect.ValueOf(memtrim.Release).Pointer(), reflect.ValueOf(tr.release).Pointer(), "the release is memtrim.Release")
	released := make(chan struct{}, 1)
	tr.release = func() { released <- struct{}{} }
	configured := base(tr).configured
	require.NotNil(t, configured, "and after its launch")
	configured()
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("no release after the launch")
	}
}

func TestConfiguredRunsAfterARealConfigureOnly(t *testing.T) {
	calls := 0
	s := &baseServer{info: Info{Kind: KindSink}, component: &recordingSink{}, configured: func() { calls++ }}
	_, err := s.Configure(context.Background(), &proto.ConfigureRequest{ApiVersion: 1, CheckOnly: true})
	require.NoError(t, err)
	assert.Zero(t, calls, "prox validate's check is no launch")
	_, err = s.Configure(context.Background(), &proto.ConfigureRequest{ApiVersion: 1})
	require.NoError(t, err)
	assert.Equal(t, 1, calls)
}
