package exec

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
)

// TestConformance runs the SDK's runner conformance suite against the exec
// runner, through the gRPC adapters as prox uses it. Its processes run on
// this machine, so the suite also checks /proc for leftovers.
func TestConformance(t *testing.T) {
	sdktest.RunnerSuite(t, func(*testing.T) sdk.Runner { return New() }, sdktest.RunnerSuiteOptions{Stats: true})
}
