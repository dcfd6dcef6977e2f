package container

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/prox-dev/prox/sdk"
)

// Pull policies of the per-process `pull` attribute.
const (
	// PullMissing pulls the image only when the engine does not have it.
	PullMissing = "missing"
	// PullNever never pulls: the engine must have the image.
	PullNever = "never"
	// PullAlways pulls the image at every start.
	PullAlways = "always"
)

// defaultPortAddr is the host address ports are published on when a port
// names none: published ports are not exposed beyond the machine unless
// asked for.
var defaultPortAddr = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// processSchema is the schema of the per-process `container { }` block.
var processSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "image", Type: sdk.TypeString, Required: true,
		Description: "The image to run, e.g. \"nginx:1.27\". Required."},
	{Name: "ports", Type: sdk.TypeListString,
		Description: "Published ports, \"host:container\" or \"addr:host:container\" (container may end in /udp); published on 127.0.0.1 unless an address is given. Default none."},
	{Name: "volumes", Type: sdk.TypeListString,
		Description: "Mounts, \"src:dst\" or \"src:dst:ro\"; src is a host path (relative to prox's working directory when it starts with . ) or a volume name. Default none."},
	{Name: "network", Type: sdk.TypeString,
		Description: "The network to join (a network name, \"host\", \"none\"). Default: the engine's default network."},
	{Name: "user", Type: sdk.TypeString,
		Description: "The user (and group) to run as, \"user\" or \"uid:gid\". Default: the image's user."},
	{Name: "init", Type: sdk.TypeBool,
		Description: "Run an init as PID 1 that forwards signals to the process and reaps zombies. Default false."},
	{Name: "pull", Type: sdk.TypeString,
		Description: "When to pull the image: \"missing\", \"never\" or \"always\". Default \"missing\"."},
	{Name: "name", Type: sdk.TypeString,
		Description: "The container's name. Default \"prox-<process>-<random>\"."},
}}

// settings are the values of a per-process block as the host sends them.
type settings struct {
	Image   string   `json:"image"`
	Ports   []string `json:"ports"`
	Volumes []string `json:"volumes"`
	Network string   `json:"network"`
	User    string   `json:"user"`
	Init    bool     `json:"init"`
	Pull    string   `json:"pull"`
	Name    string   `json:"name"`
}

// spec is a validated per-process block, ready for the engine.
type spec struct {
	image    string
	exposed  network.PortSet
	bindings network.PortMap
	binds    []string
	network  string
	user     string
	init     bool
	pull     string
	name     string
}

// parseSettings decodes and validates the per-process block of the process
// named process.
func parseSettings(process string, cfg *sdk.Config) (*spec, error) {
	var s settings
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Image) == "" {
		return nil, errors.New(`the "container" block needs an image`)
	}
	sp := &spec{image: s.Image, network: s.Network, user: s.User, init: s.Init, pull: s.Pull, name: s.Name}
	switch sp.pull {
	case "":
		sp.pull = PullMissing
	case PullMissing, PullNever, PullAlways:
	default:
		return nil, fmt.Errorf("pull %q: want %q, %q or %q", s.Pull, PullMissing, PullNever, PullAlways)
	}
	if sp.name == "" {
		name, err := defaultName(process)
		if err != nil {
			return nil, err
		}
		sp.name = name
	}
	var err error
	if sp.exposed, sp.bindings, err = parsePorts(s.Ports); err != nil {
		return nil, err
	}
	for _, v := range s.Volumes {
		b, err := parseVolume(v)
		if err != nil {
			return nil, err
		}
		sp.binds = append(sp.binds, b)
	}
	return sp, nil
}

// defaultName returns "prox-<process>-<8 random hex digits>", with the
// characters an engine refuses in a name replaced by "-".
func defaultName(process string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("container name: %w", err)
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, process)
	return "prox-" + clean + "-" + hex.EncodeToString(b[:]), nil
}

// parsePorts parses "host:container" and "addr:host:container" entries (an
// IPv6 address in brackets).
func parsePorts(ports []string) (network.PortSet, network.PortMap, error) {
	if len(ports) == 0 {
		return nil, nil, nil
	}
	exposed := network.PortSet{}
	bindings := network.PortMap{}
	for _, p := range ports {
		addr, hostPort, ctrPort, err := splitPort(p)
		if err != nil {
			return nil, nil, fmt.Errorf("port %q: %w", p, err)
		}
		port, err := network.ParsePort(ctrPort)
		if err != nil {
			return nil, nil, fmt.Errorf("port %q: %w", p, err)
		}
		exposed[port] = struct{}{}
		bindings[port] = append(bindings[port], network.PortBinding{HostIP: addr, HostPort: hostPort})
	}
	return exposed, bindings, nil
}

// splitPort splits one ports entry into its host address, host port and
// container port.
func splitPort(p string) (netip.Addr, string, string, error) {
	addr := defaultPortAddr
	rest := p
	if strings.HasPrefix(p, "[") {
		end := strings.Index(p, "]:")
		if end < 0 {
			return netip.Addr{}, "", "", errors.New(`want "[addr]:host:container"`)
		}
		a, err := netip.ParseAddr(p[1:end])
		if err != nil {
			return netip.Addr{}, "", "", fmt.Errorf("address: %w", err)
		}
		addr, rest = a, p[end+2:]
		if strings.Count(rest, ":") != 1 {
			return netip.Addr{}, "", "", errors.New(`want "[addr]:host:container"`)
		}
	}
	parts := strings.Split(rest, ":")
	switch {
	case len(parts) == 3 && !strings.HasPrefix(p, "["):
		a, err := netip.ParseAddr(parts[0])
		if err != nil {
			return netip.Addr{}, "", "", fmt.Errorf("address: %w", err)
		}
		addr, parts = a, parts[1:]
	case len(parts) != 2:
		return netip.Addr{}, "", "", errors.New(`want "host:container" or "addr:host:container"`)
	}
	if parts[0] == "" || parts[1] == "" {
		return netip.Addr{}, "", "", errors.New(`want "host:container" or "addr:host:container"`)
	}
	if _, err := network.ParsePort(parts[0]); err != nil || strings.Contains(parts[0], "/") {
		return netip.Addr{}, "", "", fmt.Errorf("host port %q is not a port number", parts[0])
	}
	return addr, parts[0], parts[1], nil
}

// parseVolume turns "src:dst[:ro|rw]" into an engine bind. A src starting
// with "." is made absolute against the working directory; another src
// without a slash is a volume name.
func parseVolume(v string) (string, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", fmt.Errorf(`volume %q: want "src:dst" or "src:dst:ro"`, v)
	}
	src, dst := parts[0], parts[1]
	if src == "" || dst == "" {
		return "", fmt.Errorf(`volume %q: want "src:dst" or "src:dst:ro"`, v)
	}
	if !strings.HasPrefix(dst, "/") {
		return "", fmt.Errorf("volume %q: the destination %q is not an absolute path", v, dst)
	}
	if strings.HasPrefix(src, ".") {
		abs, err := filepath.Abs(src)
		if err != nil {
			return "", fmt.Errorf("volume %q: %w", v, err)
		}
		src = abs
	}
	b := src + ":" + dst
	if len(parts) == 3 {
		switch parts[2] {
		case "ro", "rw":
			b += ":" + parts[2]
		default:
			return "", fmt.Errorf("volume %q: mode %q: want \"ro\" or \"rw\"", v, parts[2])
		}
	}
	return b, nil
}
