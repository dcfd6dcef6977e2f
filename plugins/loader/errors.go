package loader

import (
	"errors"
	"fmt"
)

// PluginError is an error of one external plugin, named as its plugin
// block (or its file in a plugin folder) names it.
type PluginError struct {
	// Plugin is the plugin's name.
	Plugin string
	// Err is what went wrong.
	Err error
}

func (e *PluginError) Error() string { return fmt.Sprintf("plugin %q: %v", e.Plugin, e.Err) }

func (e *PluginError) Unwrap() error { return e.Err }

var (
	// ErrNotFound means no plugin serves the requested component.
	ErrNotFound = errors.New("plugin not found")
	// ErrChecksum means a plugin binary's SHA-256 differs from the one
	// configured.
	ErrChecksum = errors.New("plugin checksum mismatch")
	// ErrIncompatible means the plugin shares no API version with prox, or
	// speaks another protocol version.
	ErrIncompatible = errors.New("incompatible plugin")
	// ErrLaunch means the plugin process could not be started or did not
	// complete the handshake.
	ErrLaunch = errors.New("plugin failed to start")
)
