package sdk

import (
	"io"
	"os"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestMain(m *testing.M) {
	// go-plugin's in-memory connections (plugin.TestPluginGRPCConn) log
	// at debug level through hclog's default output, stderr: the end of
	// every connection would print "[DEBUG] stdio EOF" lines among the
	// benchmarks' results.
	hclog.DefaultOutput = io.Discard
	os.Exit(m.Run())
}
