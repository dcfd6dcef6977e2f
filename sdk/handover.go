package sdk

import (
	"os"
)

// OutputFiler is implemented by processes whose standard output and
// standard error are pipes on the machine of the plugin, and so of prox:
// the exec runner's. The SDK then hands the pipes' read ends to prox at
// Start (the output hand-over, see OutputHandover in plugin.proto), and
// prox reads the process's output itself instead of receiving every byte
// through the plugin over gRPC. The plugin still starts, signals and reaps
// the process. Runners whose output is not a local pipe (ssh, container)
// do not implement it and stream their output.
//
// The hand-over is decided per process at Start and needs nothing from the
// runner's author but this method: when it fails, or the host did not
// offer it, the output is streamed through Stdout and Stderr as usual.
type OutputFiler interface {
	// OutputFiles returns the read ends of the stdout and stderr pipes;
	// nil for either means no hand-over. Once the SDK has handed them
	// over it closes both files, and it never calls Stdout or Stderr.
	OutputFiles() (stdout, stderr *os.File)
}
