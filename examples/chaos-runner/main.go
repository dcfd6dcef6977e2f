// Command prox-plugin-chaos is an example prox plugin: a "chaos" runner
// that starts processes like prox's built-in exec runner, then injects
// faults — it delays their start and kills them at random intervals — so
// that restart policies, health checks and the processes' own recovery can
// be tested before production does it for you.
//
// Build it, and name it in prox.hcl:
//
//	go build -o prox-plugin-chaos .
//
//	plugin "chaos" { path = "./prox-plugin-chaos" }
//	runner "chaos" "flaky" { kill_every = "30s" }
//	process "api" { command = ["./api"], runner = "chaos.flaky" }
package main

import "github.com/prox-dev/prox/sdk"

// Version is the plugin's version.
const Version = "0.1.0"

func main() {
	sdk.Serve(&sdk.ServeConfig{
		Name:    "chaos",
		Version: Version,
		Runners: map[string]sdk.Runner{Name: New()},
	})
}
