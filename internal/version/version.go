// Package version holds prox's version, shared by the CLI and the built-in
// plugins.
package version

// Version is prox's version; release builds set it with
// -ldflags "-X github.com/prox-dev/prox/internal/version.Version=...".
var Version = "0.1.0-dev"
