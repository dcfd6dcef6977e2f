package sdk

import (
	"io"
	"os"
	"testing"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
)

func TestMain(m *testing.M) {
	// go-plugin's test connections (plugin.TestPluginGRPCConn) log at
	// debug level through hclog's default output, stderr: the end of
	// every connection would print "[DEBUG] stdio EOF" lines among the
	// benchmarks' results.
	hclog.DefaultOutput = io.Discard
	// The tests and benchmarks run as prox's own plugins do, with the
	// SDK's buffer pool as gRPC's default (the test connections of
	// plugin.TestPluginGRPCConn take no options), except in the fresh
	// processes of sideeffects_test.go, which check that it is not there
	// until asked for.
	if os.Getenv(freshEnv) == "" {
		wire.InstallBufferPool()
	}
	os.Exit(m.Run())
}
