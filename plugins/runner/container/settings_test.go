package container

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/network"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseSettingsDefaults(t *testing.T) {
	sp, err := parseSettings("web/1", configValues(t, map[string]any{"image": "busybox", "ports": nil, "name": nil, "init": nil}))
	require.NoError(t, err)
	assert.Equal(t, "busybox", sp.image)
	assert.Equal(t, PullMissing, sp.pull)
	assert.False(t, sp.init)
	assert.Empty(t, sp.network)
	assert.Empty(t, sp.user)
	assert.Nil(t, sp.bindings)
	assert.Nil(t, sp.binds)
	assert.Regexp(t, `^prox-web-1-[0-9a-f]{8}$`, sp.name)
	other, err := parseSettings("web/1", configValues(t, map[string]any{"image": "busybox"}))
	require.NoError(t, err)
	assert.NotEqual(t, sp.name, other.name, "default names are random")
}

func TestParseSettingsErrors(t *testing.T) {
	for _, tc := range []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{}, `needs an image`},
		{map[string]any{"image": "  "}, `needs an image`},
		{map[string]any{"image": "x", "pull": "sometimes"}, `pull "sometimes": want "missing", "never" or "always"`},
		{map[string]any{"image": "x", "ports": []string{"8080"}}, `port "8080"`},
		{map[string]any{"image": "x", "volumes": []string{"/a"}}, `volume "/a"`},
		{map[string]any{"image": 3}, `failed to decode config`},
	} {
		_, err := parseSettings("p", configValues(t, tc.values))
		assert.ErrorContains(t, err, tc.want, "%v", tc.values)
	}
}

func TestParsePorts(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		in       string
		addr     netip.Addr
		host     string
		ctrPort  string
		wantFail string
	}{
		{in: "8080:80", addr: lo, host: "8080", ctrPort: "80/tcp"},
		{in: "0.0.0.0:8080:80", addr: netip.MustParseAddr("0.0.0.0"), host: "8080", ctrPort: "80/tcp"},
		{in: "192.0.2.1:53:53/udp", addr: netip.MustParseAddr("192.0.2.1"), host: "53", ctrPort: "53/udp"},
		{in: "[::1]:8443:443", addr: netip.MustParseAddr("::1"), host: "8443", ctrPort: "443/tcp"},
		{in: "80", wantFail: `want "host:container"`},
		{in: ":80", wantFail: `want "host:container"`},
		{in: "a:b:c:d", wantFail: `want "host:container"`},
		{in: "localhost:8080:80", wantFail: "address"},
		{in: "http:80", wantFail: `host port "http" is not a port number`},
		{in: "8080:http", wantFail: "invalid port"},
		{in: "[::1]8080:80", wantFail: `want "[addr]:host:container"`},
	} {
		exposed, bindings, err := parsePorts([]string{tc.in})
		if tc.wantFail != "" {
			assert.ErrorContains(t, err, tc.wantFail, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		port := network.MustParsePort(tc.ctrPort)
		assert.Contains(t, exposed, port, tc.in)
		assert.Equal(t, []network.PortBinding{{HostIP: tc.addr, HostPort: tc.host}}, bindings[port], tc.in)
	}

	// Two host ports for one container port.
	_, bindings, err := parsePorts([]string{"8080:80", "8081:80"})
	require.NoError(t, err)
	assert.Len(t, bindings[network.MustParsePort("80")], 2)
}

func TestParseVolume(t *testing.T) {
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, tc := range []struct{ in, want, fail string }{
		{in: "/srv/data:/data", want: "/srv/data:/data"},
		{in: "/srv/data:/data:ro", want: "/srv/data:/data:ro"},
		{in: "/srv/data:/data:rw", want: "/srv/data:/data:rw"},
		{in: "cache:/cache", want: "cache:/cache"},
		{in: "./conf:/etc/app", want: filepath.Join(wd, "conf") + ":/etc/app"},
		{in: "/a", fail: `want "src:dst"`},
		{in: ":/a", fail: `want "src:dst"`},
		{in: "/a:b", fail: `the destination "b" is not an absolute path`},
		{in: "/a:/b:rx", fail: `mode "rx"`},
		{in: "/a:/b:ro:z", fail: `want "src:dst"`},
	} {
		got, err := parseVolume(tc.in)
		if tc.fail != "" {
			assert.ErrorContains(t, err, tc.fail, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestSchemasDocumentDefaults(t *testing.T) {
	r := New()
	names := func(s *sdk.Schema) []string {
		var out []string
		for _, a := range s.Attributes {
			out = append(out, a.Name+" "+a.Type)
			assert.True(t, strings.Contains(a.Description, "Default") || strings.Contains(a.Description, "Required"),
				"%s: the description names the default: %q", a.Name, a.Description)
		}
		return out
	}
	assert.Equal(t, []string{"host string", "label string"}, names(r.ConfigSchema()))
	assert.Equal(t, []string{
		"image string", "ports list(string)", "volumes list(string)", "network string",
		"user string", "init bool", "pull string", "name string",
	}, names(r.ProcessSchema()))
	for _, a := range r.ProcessSchema().Attributes {
		assert.Equal(t, a.Name == "image", a.Required, a.Name)
	}
}

func TestEngineAddress(t *testing.T) {
	t.Setenv("DOCKER_HOST", "tcp://192.0.2.1:2376")
	addr, err := engineAddress("unix:///custom.sock")
	require.NoError(t, err)
	assert.Equal(t, "unix:///custom.sock", addr, "the host attribute wins")
	addr, err = engineAddress("")
	require.NoError(t, err)
	assert.Equal(t, "tcp://192.0.2.1:2376", addr, "then DOCKER_HOST")

	t.Setenv("DOCKER_HOST", "")
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/4242")
	socks := defaultSockets()
	assert.Equal(t, []string{"/var/run/docker.sock", "/run/user/4242/podman/podman.sock", "/run/podman/podman.sock"}, socks)
	addr, err = engineAddress("")
	found := ""
	for _, s := range socks {
		if fi, serr := os.Stat(s); serr == nil && fi.Mode()&os.ModeSocket != 0 {
			found = "unix://" + s
			break
		}
	}
	if found == "" {
		require.Error(t, err)
		assert.ErrorContains(t, err, "none of these sockets exists: /var/run/docker.sock, /run/user/4242/podman/podman.sock, /run/podman/podman.sock")
	} else {
		require.NoError(t, err)
		assert.Equal(t, found, addr, "then the first default socket that exists")
	}
}

func TestContainerEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "HOME=/root", "USER=u", "LOGNAME=u", "SHELL=/bin/sh", "PWD=/x", "OLDPWD=/y",
		"TERM=xterm", "TMPDIR=/tmp", "HOSTNAME=box", "_=/usr/bin/prox",
		"SSH_AUTH_SOCK=/s", "SSH_CONNECTION=1 2 3 4", "XDG_RUNTIME_DIR=/run/user/0", "DOCKER_HOST=unix:///d",
		"FOO=bar", "EMPTY=", "PATHS=kept", "MY_HOME=kept", "noequals", "=novalue", "LANG=C.UTF-8",
	}
	assert.Equal(t, []string{"FOO=bar", "EMPTY=", "PATHS=kept", "MY_HOME=kept", "LANG=C.UTF-8"}, containerEnv(in))
	assert.Empty(t, containerEnv(nil))
}

func TestDefaultLabel(t *testing.T) {
	a, err := defaultLabel()
	require.NoError(t, err)
	assert.Regexp(t, `^container-[0-9a-f]{12}$`, a)
	b, err := defaultLabel()
	require.NoError(t, err)
	assert.Equal(t, a, b, "stable for one machine and directory")
	t.Chdir(t.TempDir())
	c, err := defaultLabel()
	require.NoError(t, err)
	assert.NotEqual(t, a, c, "another directory, another label")
}
