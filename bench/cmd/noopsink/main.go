// Command noopsink is the smallest sink plugin the SDK makes: it serves one
// sink, "noop", that accepts every batch and keeps nothing. The benchmark's
// floor scenario runs it beside prox to measure what a plugin process costs
// before it does any work: the Go runtime, go-plugin, gRPC and the SDK, and
// nothing of prox's own plugins.
//
// In a prox.hcl:
//
//	plugin "noop" { path = "/path/to/noopsink" }
//	sink "noop" "floor" {}
//	process "web" { ... sinks = ["noop.floor"] }
package main

import (
	"context"

	"github.com/prox-dev/prox/sdk"
)

// Name is the sink's name in HCL: sink "noop" "NAME".
const Name = "noop"

// sink drops what it is given.
type sink struct{}

// Write accepts b and forgets it.
func (sink) Write(context.Context, *sdk.Batch) error { return nil }

// Flush has nothing to flush.
func (sink) Flush(context.Context) error { return nil }

// Close has nothing to release.
func (sink) Close(context.Context) error { return nil }

func main() {
	sdk.Serve(&sdk.ServeConfig{
		Name:    "noopsink",
		Version: "0.1.0",
		Sinks:   map[string]sdk.Sink{Name: sink{}},
		// Measured as the built-in sinks run.
		DefaultBufferPool: true,
		ReleaseMemory:     true,
	})
}
