package sdk

import "github.com/hashicorp/go-plugin"

// ProtocolVersion is the version of prox's plugin wire protocol. It changes
// only on a breaking change of the protocol.
const ProtocolVersion = 1

// APIVersions are the API versions this SDK speaks, lowest first. The host
// picks the highest version it shares with a plugin.
var APIVersions = []int{1}

// Handshake is the go-plugin handshake shared by prox and its plugins. The
// magic cookie only guards against running a plugin binary by hand; it is not
// a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "PROX_PLUGIN_MAGIC_COOKIE",
	MagicCookieValue: "c2e5a0a4f1d84e3f9b1f6d7a8e9c0b12",
}

// ComponentEnv is the environment variable through which the host tells a
// plugin binary which of its components to serve, as "KIND.NAME" (for
// example "runner.vm"). Without it, a binary with a single component serves that one.
const ComponentEnv = "PROX_PLUGIN_COMPONENT"

// ConfigPathEnv is the environment variable through which the host tells
// a plugin the absolute path of the configuration file it runs, so that a
// plugin can recognise what it left behind in an earlier run of the same
// configuration (the container runner labels its containers with a hash
// of it).
const ConfigPathEnv = "PROX_CONFIG_PATH"

// Kind is the kind of a plugin component.
type Kind string

// The kinds of plugin components.
const (
	KindRunner Kind = "runner"
	KindSink   Kind = "sink"
)

// Info describes one plugin component.
type Info struct {
	// Plugin is the name of the plugin binary's plugin set.
	Plugin string `json:"plugin"`
	// Name is the component's name, e.g. "exec".
	Name string `json:"name"`
	// Kind is KindRunner or KindSink.
	Kind Kind `json:"kind"`
	// Version is the plugin's own version.
	Version string `json:"version"`
	// APIVersions lists the API versions the component speaks.
	APIVersions []int `json:"api_versions"`
	// Capabilities lists the optional capabilities the component
	// implements, e.g. CapabilityExec, CapabilityLocal.
	Capabilities []string `json:"capabilities,omitempty"`
	// Command says whether a runner's processes need a command: the host
	// reports a process without one (prox validate) for CommandRequired.
	// CommandUnspecified for sinks, and for runners served by an older SDK.
	Command CommandRequirement `json:"command,omitempty"`
}

// CommandRequirement says whether a runner's processes need a command.
type CommandRequirement string

// The command requirements.
const (
	// CommandUnspecified: not said (a sink, or an older SDK); the host
	// checks nothing before Start.
	CommandUnspecified CommandRequirement = ""
	// CommandRequired: every process must have a command.
	CommandRequired CommandRequirement = "required"
	// CommandOptional: the runner has a default command (a container
	// image's); it implements DefaultCommander.
	CommandOptional CommandRequirement = "optional"
)

// NegotiateAPIVersion returns the highest version present in both lists, or
// 0 when they share none.
func NegotiateAPIVersion(host, plugin []int) int {
	best := 0
	for _, h := range host {
		for _, p := range plugin {
			if h == p && h > best {
				best = h
			}
		}
	}
	return best
}
