// Command bench runs prox's benchmark scenarios against prox, the shell
// baselines and supervisord (when installed), interleaved in rounds, and
// prints a markdown table of medians, each figure with its ratio to the
// baseline and to supervisord measured in the same rounds. Raw results go
// to a JSON lines file. From the repository's root:
//
//	go run ./bench -rounds 3
//
// It builds prox, the workload program (bench/cmd/proxload) and, for the
// floor scenario, the no-op sink plugin (bench/cmd/noopsink) from the
// repository first. See docs/performance.md for the scenarios and what the
// figures mean; -h lists the flags. It runs on Linux only and needs nothing
// beyond Go and Debian packages (supervisord from the package supervisor).
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
