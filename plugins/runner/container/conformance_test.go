package container

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
)

// TestConformance runs the SDK's runner conformance suite against the
// container runner, through the gRPC adapters as prox uses it, on the
// shared Podman service: each process is a container of the busybox test
// image, with an init as PID 1 (a PID 1 without handlers ignores SIGTERM;
// the init forwards it). PIDs inside a container are not this machine's,
// so the suite relies on the output streams reaching EOF to tell that
// nothing is left.
//
// Signals reach the whole container: the engine signals PID 1 (here the
// init, which forwards to its child) and the runner signals every other
// process with `kill -1` inside the container.
func TestConformance(t *testing.T) {
	t.Parallel()
	addr := engineAddr(t)
	sdktest.RunnerSuite(t, func(t *testing.T) sdk.Runner {
		r := New()
		sdktest.Configure(t, r, map[string]any{"host": addr, "label": uniqueLabel(t)})
		return r
	}, sdktest.RunnerSuiteOptions{
		Prepare: func(t *testing.T, cfg *sdk.ProcessConfig) {
			cfg.Settings = sdktest.Settings(t, New(), map[string]any{
				"image": testImage, "pull": PullNever, "network": "none", "init": true,
			})
		},
		RemoteProcesses: true,
		Stats:           true,
	})
}
