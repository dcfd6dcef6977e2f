// Package pluginhost is prox's side of a plugin connection, which plugin
// authors never use: the go-plugin glue that dispenses a component
// (HostPlugins, Dispense), the clients of the base, runner and sink
// services (Base, and the sdk.Runner and sdk.Sink that call the plugin),
// the host's end of the output hand-over (one socket per process, and the
// reader of a handed-over pipe) and of the shared batch region, the batch
// encoder, the mapping of gRPC errors to the sdk's errors (ConfigureError
// among them), ParseReattach, and Serve, which serves a component in this
// process for tests and embedding. plugins/loader launches plugins with
// it; sdk/sdktest's harnesses use Serve.
//
// The sdk is the other side (what a plugin serves), and internal/wire what
// both share. pluginhost imports the sdk for its types; the sdk never
// imports it.
package pluginhost
