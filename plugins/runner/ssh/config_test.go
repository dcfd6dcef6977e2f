package ssh

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configFixture holds the files a valid runner block refers to.
type configFixture struct {
	home, identity, knownHosts string
}

func newConfigFixture(t *testing.T) *configFixture {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	require.NoError(t, os.Mkdir(filepath.Join(home, ".ssh"), 0o700))
	f := &configFixture{
		home:       home,
		identity:   filepath.Join(home, ".ssh", "id_ed25519"),
		knownHosts: filepath.Join(home, ".ssh", "known_hosts"),
	}
	writeKey(t, f.identity)
	require.NoError(t, os.WriteFile(f.knownHosts, nil, 0o644))
	return f
}

func parse(t *testing.T, values map[string]any, env map[string]string) (*settings, error) {
	t.Helper()
	return parseConfig(sdktest.Values(t, schema, values), func(k string) string { return env[k] })
}

func TestConfigDefaults(t *testing.T) {
	f := newConfigFixture(t)
	s, err := parse(t, map[string]any{"host": "example.com", "user": "deploy", "identity_file": "~/.ssh/id_ed25519",
		"port": nil, "use_agent": nil, "known_hosts": nil, "insecure_ignore_host_key": nil, "connect_timeout": nil, "keepalive": nil}, nil)
	require.NoError(t, err)
	assert.Equal(t, "example.com:22", s.addr)
	assert.Equal(t, "deploy", s.user)
	assert.Equal(t, f.identity, s.identityFile, "~/ is expanded")
	assert.NotNil(t, s.identity)
	assert.Equal(t, f.knownHosts, s.knownHosts, `default "~/.ssh/known_hosts"`)
	assert.False(t, s.insecure)
	assert.Empty(t, s.agentSock, "no agent without SSH_AUTH_SOCK")
	assert.Equal(t, 10*time.Second, s.connectTimeout)
	assert.Equal(t, 15*time.Second, s.keepalive)
}

func TestConfigValues(t *testing.T) {
	f := newConfigFixture(t)
	s, err := parse(t, map[string]any{"host": "::1", "port": 2222, "user": "deploy",
		"known_hosts": f.knownHosts, "connect_timeout": "3s", "keepalive": "0"}, map[string]string{agentSockEnv: "/tmp/agent"})
	require.NoError(t, err)
	assert.Equal(t, "[::1]:2222", s.addr)
	assert.Equal(t, "/tmp/agent", s.agentSock, "use_agent defaults to true with SSH_AUTH_SOCK")
	assert.Nil(t, s.identity)
	assert.Equal(t, 3*time.Second, s.connectTimeout)
	assert.Zero(t, s.keepalive, `"0" disables keepalives`)

	s, err = parse(t, map[string]any{"host": "h", "user": "u", "identity_file": f.identity, "use_agent": false}, map[string]string{agentSockEnv: "/tmp/agent"})
	require.NoError(t, err)
	assert.Empty(t, s.agentSock)

	// Without known_hosts, only insecure_ignore_host_key lets it through.
	require.NoError(t, os.Remove(f.knownHosts))
	s, err = parse(t, map[string]any{"host": "h", "user": "u", "identity_file": f.identity, "insecure_ignore_host_key": true}, nil)
	require.NoError(t, err)
	assert.True(t, s.insecure)
}

func TestConfigErrors(t *testing.T) {
	f := newConfigFixture(t)
	// A key protected by a passphrase (made with ssh-keygen -N secret).
	encrypted := filepath.Join("testdata", "encrypted_ed25519")
	garbage := filepath.Join(f.home, "garbage")
	require.NoError(t, os.WriteFile(garbage, []byte("not a key"), 0o600))

	base := func(kv ...any) map[string]any {
		m := map[string]any{"host": "h", "user": "u", "identity_file": f.identity}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		values map[string]any
		env    map[string]string
		want   string
	}{
		{"no host", base("host", ""), nil, "host: is required"},
		{"no user", base("user", ""), nil, "user: is required"},
		{"port zero", base("port", 0), nil, "port: 0 is not a TCP port"},
		{"port too big", base("port", 70000), nil, "port: 70000 is not a TCP port"},
		{"zero timeout", base("connect_timeout", "0s"), nil, "connect_timeout: must be positive"},
		{"negative keepalive", base("keepalive", "-1s"), nil, `keepalive: "-1s" is negative`},
		{"missing identity", base("identity_file", "/nonexistent/id"), nil, "identity_file: open /nonexistent/id: no such file or directory"},
		{"encrypted identity", base("identity_file", encrypted), nil, "is protected by a passphrase; load it into an ssh-agent instead"},
		{"garbage identity", base("identity_file", garbage), nil, "identity_file: " + garbage + ": ssh: no key found"},
		{"missing known_hosts", base("known_hosts", "/nonexistent/known_hosts"), nil, "known_hosts: open /nonexistent/known_hosts: no such file or directory"},
		{"no auth", base("identity_file", nil), nil, "no way to authenticate: set identity_file, or run an ssh-agent (SSH_AUTH_SOCK)"},
		{"agent without socket", base("use_agent", true), nil, "use_agent: is true but SSH_AUTH_SOCK is not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(t, tc.values, tc.env)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			switch tc.name {
			case "no auth":
				assert.Empty(t, sdktest.AttributeNames(err), "a problem of the block, not of one attribute")
			default:
				attr, _, _ := strings.Cut(err.Error(), ":")
				assert.Equal(t, []string{attr}, sdktest.AttributeNames(err), "one problem, named by its attribute")
			}
		})
	}
}

func TestConfigureErrorNamesRunner(t *testing.T) {
	newConfigFixture(t)
	r := newRunner(hclog.NewNullLogger())
	r.getenv = func(string) string { return "" }
	err := r.Configure(&sdk.Config{APIVersion: 1, Values: []byte(`{"host":"h","user":"u"}`)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ssh runner: no way to authenticate")
}

func TestSchemaDocumentsDefaults(t *testing.T) {
	r := New()
	s := r.ConfigSchema()
	names := map[string]sdk.Attribute{}
	for _, a := range s.Attributes {
		names[a.Name] = a
		if !a.Required {
			assert.Contains(t, a.Description, "Default", "attribute %s names its default", a.Name)
		}
	}
	for _, want := range []struct {
		name, typ string
		required  bool
	}{
		{"host", sdk.TypeString, true}, {"port", sdk.TypeInteger, false}, {"user", sdk.TypeString, true},
		{"identity_file", sdk.TypeString, false}, {"use_agent", sdk.TypeBool, false}, {"known_hosts", sdk.TypeString, false},
		{"insecure_ignore_host_key", sdk.TypeBool, false}, {"connect_timeout", sdk.TypeDuration, false}, {"keepalive", sdk.TypeDuration, false},
	} {
		a, ok := names[want.name]
		if assert.True(t, ok, want.name) {
			assert.Equal(t, want.typ, a.Type, want.name)
			assert.Equal(t, want.required, a.Required, want.name)
		}
	}
	assert.Len(t, s.Attributes, 9)
}
