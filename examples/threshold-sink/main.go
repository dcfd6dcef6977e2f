// Command prox-plugin-threshold is an example prox plugin: a "threshold"
// sink that raises an alert when a pattern matches N lines of a process's
// output within a time window (or when N events such as crashes happen
// within it), then stays quiet for a cooldown. Alerts go to a command (the
// alert as JSON on its stdin) and/or are appended to a file as JSON lines.
//
// Build it, and name it in prox.hcl:
//
//	go build -o prox-plugin-threshold .
//
//	plugin "threshold" { path = "./prox-plugin-threshold" }
//	sink "threshold" "errors" {
//	  pattern = "ERROR|panic:"
//	  count   = 5
//	  window  = "1m"
//	  command = ["notify-send", "prox alert"]
//	}
//	process "api" { command = ["./api"], sinks = ["threshold.errors"] }
package main

import "github.com/prox-dev/prox/sdk"

// Version is the plugin's version.
const Version = "0.1.0"

func main() {
	sdk.Serve(&sdk.ServeConfig{
		Name:    "threshold",
		Version: Version,
		Sinks:   map[string]sdk.Sink{Name: New()},
	})
}
