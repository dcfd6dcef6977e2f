// Package config loads, evaluates and validates prox.hcl, the HCL file that
// describes the processes prox supervises.
//
// A configuration declares processes (process "NAME" blocks), configured
// runner and sink plugin instances (runner "KIND" "NAME" and sink "KIND"
// "NAME" blocks), and external plugin binaries (plugin "NAME" blocks).
// Expressions may call env("NAME"), file("path") and a selection of the
// go-cty standard library functions; there are no variables.
//
// Load and Parse decode the file, apply defaults, make relative paths
// absolute against the folder of the configuration file and validate
// everything they can. They never stop at the first problem: every error is
// returned as an hcl.Diagnostic whose Subject points at the offending
// attribute, block or list element, so WriteDiagnostics can render all of
// them with source snippets.
//
// Plugin specific bodies (the body of runner and sink blocks, and the block
// named after a process's runner kind) are not decoded here; they are kept
// as hcl.Body values for the host to decode against the plugin's schema.
//
// This is a leaf package: it depends only on the standard library, HCL,
// go-cty and golang.org/x/sys/unix.
package config
