package pluginhost

import (
	"io"
	"os"
	"testing"

	"github.com/prox-dev/prox/internal/wire"

	"github.com/hashicorp/go-hclog"
)

func TestMain(m *testing.M) {
	// go-plugin's clients log at debug level through hclog's default
	// output, stderr.
	hclog.DefaultOutput = io.Discard
	// The tests and benchmarks run as prox's own host and plugins do, with
	// prox's buffer pool as gRPC's default (the loader installs it).
	wire.InstallBufferPool()
	os.Exit(m.Run())
}
