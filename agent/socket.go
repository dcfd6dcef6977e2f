package agent

import (
	"os"

	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
)

// SocketEnv names the environment variable that sets the control socket.
const SocketEnv = "PROX_SOCKET"

// orDefault is path, or DefaultConfig when it is empty.
func orDefault(path string) string {
	if path == "" {
		return DefaultConfig
	}
	return path
}

// SocketPath returns the control socket of the configuration at
// configPath: flagValue (-socket), else $PROX_SOCKET, else the
// configuration's own `socket`, when it sets one and parses, else
// .prox/prox.sock beside the file. `prox up` listens there and every
// control command connects there, so in a project folder they meet.
func SocketPath(flagValue, configPath string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(SocketEnv); env != "" {
		return env
	}
	configPath = orDefault(configPath)
	// The configuration's own `socket`, when it sets one and parses.
	cfg, diags := config.Load(configPath)
	if diags.HasErrors() {
		cfg = nil
	}
	return socketOf(flagValue, configPath, cfg)
}

// socketOf is SocketPath with the configuration already loaded (nil when
// it does not parse): -socket, else $PROX_SOCKET, else the configuration's
// `socket`, else .prox/prox.sock beside it.
func socketOf(flagValue, configPath string, cfg *config.Config) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv(SocketEnv); env != "" {
		return env
	}
	configPath = orDefault(configPath)
	if cfg != nil && cfg.Socket != "" {
		return cfg.Socket
	}
	return control.DefaultSocket(configPath)
}
