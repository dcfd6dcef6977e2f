// Package loader is the host side of prox's plugins: it finds the binary
// that serves a component (the built-in catalog, an explicit plugin block,
// plugin_dir), verifies its checksum, launches it through go-plugin,
// negotiates the API version, decodes the component's HCL against the schema
// it declares, and shuts every plugin down.
package loader
