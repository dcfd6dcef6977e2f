package wire

import (
	"fmt"
	"net"
)

// ReattachConfig tells a host how to reach a plugin component that serves
// in debug mode. It is prox's own JSON form of go-plugin's ReattachConfig:
// a plugin in debug mode prints it (sdk.ServeDebug), in the value of
// sdk.ReattachEnv, and the host parses it (pluginhost.ParseReattach).
type ReattachConfig struct {
	// Protocol is the go-plugin protocol, always "grpc".
	Protocol string `json:"protocol"`
	// ProtocolVersion is the plugin's sdk.ProtocolVersion.
	ProtocolVersion int `json:"protocol_version"`
	// Network and Address locate the plugin's listener, e.g. "unix" and
	// "/tmp/plugin123456".
	Network string `json:"network"`
	Address string `json:"address"`
	// PID is the plugin process's ID.
	PID int `json:"pid"`
}

// Addr returns the listener's address as a net.Addr.
func (rc ReattachConfig) Addr() (net.Addr, error) {
	switch rc.Network {
	case "unix":
		return net.ResolveUnixAddr("unix", rc.Address)
	case "tcp":
		return net.ResolveTCPAddr("tcp", rc.Address)
	}
	return nil, fmt.Errorf("unsupported network %q", rc.Network)
}
