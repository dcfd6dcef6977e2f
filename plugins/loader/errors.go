package loader

import "errors"

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
