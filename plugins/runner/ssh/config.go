package ssh

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
	xssh "golang.org/x/crypto/ssh"
)

// Defaults of the runner block's optional attributes.
const (
	defaultPort           = 22
	defaultKnownHosts     = "~/.ssh/known_hosts"
	defaultConnectTimeout = 10 * time.Second
	defaultKeepalive      = 15 * time.Second
)

// agentSockEnv names the ssh-agent socket in the plugin's environment.
const agentSockEnv = "SSH_AUTH_SOCK"

// schema is the runner block's schema; each description names the default.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "host", Type: sdk.TypeString, Required: true,
		Description: "Host name or IP address of the SSH server. Required."},
	{Name: "port", Type: sdk.TypeInteger, Default: defaultPort,
		Description: "TCP port of the SSH server. Default 22."},
	{Name: "user", Type: sdk.TypeString, Required: true,
		Description: "User to log in as. Required."},
	{Name: "identity_file", Type: sdk.TypeString,
		Description: "Path of an unencrypted private key (OpenSSH or PEM format); \"~/\" is the plugin user's home. Default none: authenticate with the ssh-agent only."},
	{Name: "use_agent", Type: sdk.TypeBool,
		Description: "Offer the keys of the ssh-agent at SSH_AUTH_SOCK, after identity_file's. Default true when SSH_AUTH_SOCK is set, false otherwise."},
	{Name: "known_hosts", Type: sdk.TypeString,
		Description: "known_hosts file the server's host key is verified against; an unknown or changed key is refused. Default \"~/.ssh/known_hosts\"."},
	{Name: "insecure_ignore_host_key", Type: sdk.TypeBool,
		Description: "Accept any host key without verification (logs a warning). Default false."},
	{Name: "connect_timeout", Type: sdk.TypeDuration, Default: defaultConnectTimeout,
		Description: "Bound, as a Go duration, on establishing the connection (TCP connect, handshake, authentication), on starting each process (until the remote command runs) and on each control command (kill). Default \"10s\"."},
	{Name: "keepalive", Type: sdk.TypeDuration, Default: defaultKeepalive,
		Description: "Interval between keepalive requests, as a Go duration; the connection is declared lost when one stays unanswered for three intervals. \"0\" disables keepalives. Default \"15s\"."},
}}

// rawConfig is the runner block as the host delivers it, with the
// schema's defaults; pointers tell an absent attribute from a zero value.
type rawConfig struct {
	Host                  string        `json:"host"`
	Port                  int           `json:"port"`
	User                  string        `json:"user"`
	IdentityFile          *string       `json:"identity_file"`
	UseAgent              *bool         `json:"use_agent"`
	KnownHosts            *string       `json:"known_hosts"`
	InsecureIgnoreHostKey *bool         `json:"insecure_ignore_host_key"`
	ConnectTimeout        time.Duration `json:"connect_timeout"`
	Keepalive             time.Duration `json:"keepalive"`
}

// settings is the validated configuration of a Runner.
type settings struct {
	// addr is "host:port", the address dialled and looked up in known_hosts.
	addr string
	user string
	// identity is the signer of identity_file; nil without one.
	identity     xssh.Signer
	identityFile string
	// agentSock is the ssh-agent socket; "" when the agent is not used.
	agentSock      string
	knownHosts     string
	insecure       bool
	connectTimeout time.Duration
	keepalive      time.Duration
}

// parseConfig validates the runner block; it reports every problem at
// once, each attribute's as an sdk.AttributeError. getenv reads the
// plugin's environment (SSH_AUTH_SOCK, and HOME through os.UserHomeDir).
func parseConfig(cfg *sdk.Config, getenv func(string) string) (*settings, error) {
	// The SDK has put the defaults in; so does a direct call.
	values, err := schema.ApplyDefaults(cfg.Values)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	if err := (&sdk.Config{Values: values}).Decode(&raw); err != nil {
		return nil, err
	}
	var problems []error
	check := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	if strings.TrimSpace(raw.Host) == "" {
		check(sdk.AttributeErrorf("host", "is required"))
	}
	if raw.User == "" {
		check(sdk.AttributeErrorf("user", "is required"))
	}
	if raw.Port < 1 || raw.Port > 65535 {
		check(sdk.AttributeErrorf("port", "%v is not a TCP port (1 to 65535)", raw.Port))
	}
	s := &settings{
		addr:           net.JoinHostPort(strings.TrimSpace(raw.Host), strconv.Itoa(raw.Port)),
		user:           raw.User,
		connectTimeout: raw.ConnectTimeout,
		keepalive:      raw.Keepalive,
	}
	switch {
	case s.connectTimeout < 0:
		check(sdk.AttributeErrorf("connect_timeout", "%q is negative", s.connectTimeout))
	case s.connectTimeout == 0:
		check(sdk.AttributeErrorf("connect_timeout", "must be positive"))
	}
	if s.keepalive < 0 {
		check(sdk.AttributeErrorf("keepalive", "%q is negative", s.keepalive))
	}

	if raw.InsecureIgnoreHostKey != nil {
		s.insecure = *raw.InsecureIgnoreHostKey
	}
	knownHosts := defaultKnownHosts
	if raw.KnownHosts != nil && *raw.KnownHosts != "" {
		knownHosts = *raw.KnownHosts
	}
	if !s.insecure {
		if s.knownHosts, err = expandHome(knownHosts); err != nil {
			check(sdk.AttributeErrorf("known_hosts", "%w", err))
		} else if _, err := loadKnownHosts(s.knownHosts); err != nil {
			// Read now, so that a missing or malformed file fails the
			// start of prox; it is read again on every connection.
			check(err)
		}
	}

	if raw.IdentityFile != nil && *raw.IdentityFile != "" {
		if s.identityFile, err = expandHome(*raw.IdentityFile); err != nil {
			check(sdk.AttributeErrorf("identity_file", "%w", err))
		} else if s.identity, err = loadIdentity(s.identityFile); err != nil {
			check(err)
		}
	}
	sock := getenv(agentSockEnv)
	useAgent := sock != ""
	if raw.UseAgent != nil {
		useAgent = *raw.UseAgent
	}
	if useAgent {
		if sock == "" {
			check(sdk.AttributeErrorf("use_agent", "is true but %s is not set", agentSockEnv))
		}
		s.agentSock = sock
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	if s.identity == nil && s.agentSock == "" {
		return nil, fmt.Errorf("no way to authenticate: set identity_file, or run an ssh-agent (%s)", agentSockEnv)
	}
	return s, nil
}

// expandHome replaces a leading "~/" (or a lone "~") with the home
// directory of the plugin's user.
func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("expand %q: %w", path, err)
	}
	return filepath.Join(home, strings.TrimPrefix(path, "~")), nil
}

// loadIdentity reads and parses an unencrypted private key.
func loadIdentity(path string) (xssh.Signer, error) {
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return nil, sdk.AttributeErrorf("identity_file", "%w", err)
	}
	signer, err := xssh.ParsePrivateKey(pemBytes)
	var missing *xssh.PassphraseMissingError
	if errors.As(err, &missing) {
		return nil, sdk.AttributeErrorf("identity_file", "%s is protected by a passphrase; load it into an ssh-agent instead: %w", path, err)
	}
	if err != nil {
		return nil, sdk.AttributeErrorf("identity_file", "%s: %w", path, err)
	}
	return signer, nil
}
