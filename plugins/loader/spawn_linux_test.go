package loader

import (
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// freshEnv makes TestSpawnerStartsWithTheFirstPlugin run its body: the
// parent test runs the test binary again, so that the body sees a process
// in which no plugin was launched yet.
const freshEnv = "PROX_LOADER_TEST_FRESH_PROCESS"

// spawnerGoroutines returns the stacks of the goroutines running spawner.
func spawnerGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "created by github.com/prox-dev/prox/plugins/loader.") {
			found = append(found, g)
		}
	}
	return found
}

func TestSpawnerStartsWithTheFirstPlugin(t *testing.T) {
	const name = "TestSpawnerStartsWithTheFirstPlugin"
	if os.Getenv(freshEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), freshEnv+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "the fresh process:\n%s", out)
		require.Contains(t, string(out), "--- PASS: "+name, "the fresh process ran the test:\n%s", out)
		return
	}
	assert.Empty(t, spawnerGoroutines(), "importing the loader starts no goroutine")

	ran := false
	require.NoError(t, spawn(func() error { ran = true; return nil }))
	assert.True(t, ran)
	g := spawnerGoroutines()
	require.Len(t, g, 1, "the first spawn starts the spawner")
	assert.Contains(t, g[0], "loader.spawner")
	require.NoError(t, spawn(func() error { return nil }))
	assert.Len(t, spawnerGoroutines(), 1, "and only the first")
}
