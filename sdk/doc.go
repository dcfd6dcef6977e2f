// Package sdk is the public API of prox plugins: what a third party
// imports to write a runner (how a process is started) or a sink (where its
// output goes). It imports nothing else of prox but two internal packages
// a plugin never uses directly: the transport it shares with prox (its
// gRPC options and codecs), and the release of idle memory. The one other
// package of
// prox meant for plugins is github.com/prox-dev/prox/plugins/runner/exec,
// prox's own exec runner: an sdk.Runner built on this package alone, which a
// runner that starts local processes may wrap instead of handling process
// groups, signals and output pipes itself (the tutorial of docs/plugins.md
// does).
//
// # What a plugin is
//
// A plugin is a separate program that prox launches and talks to over gRPC
// through github.com/hashicorp/go-plugin. It serves one or more named
// components, each a runner or a sink; its main function builds them and
// hands them to Serve:
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
// prox launches one plugin process per configured component (per runner
// reference such as "vm" or "vm.big", per sink block) and tells it which
// component to serve through the environment (ComponentEnv); a crash stays
// local to that component, and prox relaunches it. Run with the single
// argument "describe", the binary prints its components as JSON and exits
// without starting gRPC: prox uses it to find which binary provides a
// component. Run with "-debug", it serves in debug mode (ServeDebug) so that
// an author can run it under a debugger and attach prox to it
// (ReattachEnv). Nothing may be written to stdout before Serve: the
// handshake uses it; log through an hclog logger on stderr, which prox turns
// into its own log lines.
//
// A component is a value of one of the two interfaces, Runner (with the
// Process values it returns) or Sink. Optional capabilities are small extra
// interfaces that Serve detects by type assertion: Configurable (a config
// block), ProcessConfigurable (per-process settings), Shutdowner (resources
// to release), Execer (run a command where a process runs),
// LocalProcessGroup and LocalCgroup (a process group, a cgroup on this
// machine), Containment (what keeps a process's descendants from
// outliving it, for `prox ps`). A minimal runner
// implements only Start and the Process methods; a minimal sink Write,
// Flush and Close. On the wire, an optional RPC a plugin does not implement
// answers gRPC Unimplemented, which the host takes as the capability's
// absence, never as an error: a plugin built with an older SDK keeps
// working.
//
// # Lifecycle
//
// For each component it uses, prox:
//
//  1. launches the plugin process and completes go-plugin's handshake
//     (Handshake: protocol version and magic cookie);
//  2. calls Info and negotiates the API version (the highest both sides
//     list; none in common refuses the plugin, naming both lists);
//  3. reads the schemas (Configurable.ConfigSchema,
//     ProcessConfigurable.ProcessSchema), decodes the user's HCL against
//     them — so a misspelt attribute is reported at its line before the
//     plugin sees anything — and calls Configure once with the values as
//     JSON (Config.Decode); an *AttributeError from Configure (see
//     AttributeErrorf; several joined with errors.Join) is reported at its
//     attribute's line, any other error at the block;
//  4. uses the component: Runner.Start and the Process methods, or
//     Sink.Write for every batch;
//  5. on shutdown: for a runner, stops its processes (the stop signal, the
//     stop timeout, SIGKILL); for a sink, Flush then Close after the last
//     Write; then Shutdown (Shutdowner) on every component, bounded to 5
//     seconds, and the plugin process is killed. If prox dies, even by
//     SIGKILL, the plugin receives SIGTERM: Serve then kills every process
//     a runner still runs (Signal SIGKILL), calls the runner's Shutdown
//     (bounded to 5 seconds) and exits.
//
// # Concurrency
//
// Configure is called once, before any other method of the component but
// the schema methods; ConfigSchema and ProcessSchema must not depend on
// configuration. Runner.Start is called concurrently, for many processes.
// The methods of a Process may be called concurrently with each other and
// with other processes' calls; the SDK reads Stdout and Stderr concurrently,
// each to its end. A Sink sees one call at a time: Write, then the next
// Write once the previous one returned, and Flush and Close after the last
// Write; Write must not keep the batch after it returns (its line bytes may
// be kept). Shutdown is called once, last, possibly while a runner's
// processes still run. Each method documents its own contract; the
// conformance suites of package sdk/sdktest check it.
//
// # Compatibility
//
// ProtocolVersion changes only when the wire protocol breaks; a plugin built
// for another protocol version is refused at the handshake with a message
// naming both versions, and must be rebuilt against an SDK of prox's
// protocol. Within a protocol version, behaviour is versioned by API
// versions: a plugin lists the API versions it supports (APIVersions by
// default, ServeConfig.APIVersions to choose), the host picks the highest
// one both support and passes it in Config.APIVersion (also in
// ProcessConfig.Settings). Additions — a new optional RPC, a new field, a
// new schema type — come with a new API version and are optional on both
// sides.
//
// The promise: a plugin binary keeps working with every prox release that
// speaks its protocol version and one of its API versions, and within a
// major version of the SDK an existing exported identifier keeps its
// meaning. When prox adds API version N+1, plugins that list only N keep
// working unchanged. An author who wants N+1's additions updates the SDK,
// handles them, and adds N+1 to the list — keeping N as long as older prox
// releases must load the plugin, branching on Config.APIVersion where the
// behaviour differs. When a future prox drops API version N (announced a
// release ahead), plugins that list only N are refused with a message naming
// both lists, and their authors rebuild with a current SDK.
package sdk
