// Package sdk is the public API of prox plugins: the only package a third
// party imports to write a runner (how a process is started) or a sink (where
// its output goes).
//
// A plugin is a separate program that prox launches and talks to over gRPC
// through github.com/hashicorp/go-plugin. The plugin's main function builds
// its components and hands them to Serve:
//
//	func main() {
//		sdk.Serve(&sdk.ServeConfig{
//			Name:    "myplugin",
//			Version: "0.1.0",
//			Runners: map[string]sdk.Runner{"vm": &vmRunner{}},
//			Sinks:   map[string]sdk.Sink{"slack": &slackSink{}},
//		})
//	}
//
// One binary may serve many components; prox launches one plugin process per
// configured component and tells it which one to serve through the
// environment (ComponentEnv). Run with the single argument "describe", the
// binary prints its components as JSON and exits without starting gRPC.
//
// # Lifecycle
//
// prox launches the plugin, calls Info, reads the schemas of its config
// (ConfigSchema, and ProcessSchema for runners), decodes the user's HCL
// against them, and calls Configure once with the values before any other
// method. Runners then receive Start calls, sinks Write calls, concurrently.
// On shutdown prox calls Flush and Close on sinks, Shutdown on every
// component, then kills the plugin process.
//
// # Compatibility
//
// ProtocolVersion changes only when the wire protocol breaks; a plugin built
// for another protocol version is refused at the handshake with a message
// naming both versions. Within a protocol version, behaviour is versioned by
// API versions: a plugin lists the API versions it supports (APIVersions by
// default), the host picks the highest one both support and passes it in
// Config.APIVersion. When prox adds API version N+1, plugins that list only N
// keep working; an author adopts N+1 by handling its additions and adding it
// to the list.
package sdk
