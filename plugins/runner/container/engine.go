package container

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/moby/client"
)

// pingTimeout bounds the first contact with the engine.
const pingTimeout = 10 * time.Second

// defaultSockets returns the sockets tried, in order, when neither the
// `host` attribute nor DOCKER_HOST names an engine.
func defaultSockets() []string {
	socks := []string{"/var/run/docker.sock"}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		socks = append(socks, filepath.Join(dir, "podman", "podman.sock"))
	}
	return append(socks, "/run/podman/podman.sock")
}

// engineAddress returns the engine's address: host when set, else
// DOCKER_HOST, else the first default socket that exists.
func engineAddress(host string) (string, error) {
	if host != "" {
		return host, nil
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h, nil
	}
	socks := defaultSockets()
	for _, s := range socks {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return "unix://" + s, nil
		}
	}
	return "", fmt.Errorf("no container engine found: the runner block sets no host, DOCKER_HOST is unset, and none of these sockets exists: %s", strings.Join(socks, ", "))
}

// connect returns a client of the engine at addr once the engine has
// answered a ping (the client negotiates the API version by default).
func connect(ctx context.Context, addr string) (*client.Client, error) {
	opts := []client.Opt{client.WithHost(addr)}
	if os.Getenv("DOCKER_CERT_PATH") != "" {
		opts = append(opts, client.WithTLSClientConfigFromEnv())
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("container engine address %q: %w", addr, err)
	}
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = c.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("no container engine answers at %s within %s: %w", addr, pingTimeout, err)
		}
		return nil, fmt.Errorf("no container engine answers at %s: %w", addr, err)
	}
	return c, nil
}
