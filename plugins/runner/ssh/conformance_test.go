package ssh

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
)

// TestConformance runs the SDK's runner conformance suite against the ssh
// runner, through the gRPC adapters as prox uses it, with one private sshd
// for the whole suite and a fresh runner (and so connection) per check.
// The remote host is this machine, so the suite's /proc checks for
// leftover processes apply.
func TestConformance(t *testing.T) {
	srv := startSSHD(t)
	sdktest.RunnerSuite(t, func(t *testing.T) sdk.Runner {
		r := New()
		sdktest.Configure(t, r, map[string]any{
			"host":          "127.0.0.1",
			"port":          srv.Port,
			"user":          testUser,
			"identity_file": srv.Identity,
			"known_hosts":   srv.KnownHosts,
			"use_agent":     false,
		})
		return r
	}, sdktest.RunnerSuiteOptions{Stats: true})
}
