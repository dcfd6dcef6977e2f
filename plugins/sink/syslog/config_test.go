package syslog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	c, err := parseConfig(configValues(t, map[string]any{"address": "udp://127.0.0.1:514"}))
	require.NoError(t, err)
	assert.Equal(t, transportUDP, c.transport)
	assert.Equal(t, "127.0.0.1:514", c.dialAddr)
	assert.Equal(t, formatRFC5424, c.format)
	assert.Equal(t, 1, c.facility, "user")
	assert.Equal(t, sevInfo, c.stdoutSeverity)
	assert.Equal(t, sevWarning, c.stderrSeverity)
	assert.Equal(t, hostname(t), c.hostname)
	assert.Equal(t, 5*time.Second, c.connectTimeout)
	assert.Equal(t, 10000, c.maxQueue)
	assert.Nil(t, c.tls)
}

func TestConfigValues(t *testing.T) {
	c, err := parseConfig(configValues(t, map[string]any{
		"address": "tls://[::1]:6514", "format": "rfc3164", "facility": "LOCAL7",
		"stdout_severity": "debug", "stderr_severity": "crit", "hostname": "h",
		"tls_server_name": "logs.example.com", "tls_insecure_skip_verify": true,
		"connect_timeout": "250ms", "max_queue": 0,
	}))
	require.NoError(t, err)
	assert.Equal(t, "[::1]:6514", c.dialAddr)
	assert.Equal(t, formatRFC3164, c.format)
	assert.Equal(t, 23, c.facility)
	assert.Equal(t, sevDebug, c.stdoutSeverity)
	assert.Equal(t, sevCrit, c.stderrSeverity)
	assert.Equal(t, "h", c.hostname)
	require.NotNil(t, c.tls)
	assert.Equal(t, "logs.example.com", c.tls.ServerName)
	assert.True(t, c.tls.InsecureSkipVerify)
	assert.Equal(t, 250*time.Millisecond, c.connectTimeout)
	assert.Equal(t, 0, c.maxQueue)

	u, err := parseConfig(configValues(t, map[string]any{"address": "unix:///dev/log"}))
	require.NoError(t, err)
	assert.Equal(t, transportUnix, u.transport)
	assert.Equal(t, "/dev/log", u.dialAddr)

	tlsDefault, err := parseConfig(configValues(t, map[string]any{"address": "tls://127.0.0.1:6514"}))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", tlsDefault.tls.ServerName, "the server name defaults to the address's host")
}

func TestConfigErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("not a certificate"), 0o644))
	ok := "tcp://127.0.0.1:514"
	for _, tc := range []struct {
		name string
		set  map[string]any
		want string
		attr string
	}{
		{"address missing", map[string]any{}, "address: is required", "address"},
		{"address empty", map[string]any{"address": ""}, "address: is required", "address"},
		{"unknown scheme", map[string]any{"address": "http://127.0.0.1:514"}, "scheme must be udp, tcp, tls or unix", "address"},
		{"no scheme", map[string]any{"address": "127.0.0.1:514"}, `address: "127.0.0.1:514"`, "address"},
		{"no port", map[string]any{"address": "tcp://127.0.0.1"}, "want tcp://host:port", "address"},
		{"path on tcp", map[string]any{"address": "tcp://127.0.0.1:514/x"}, "has no path", "address"},
		{"unix without path", map[string]any{"address": "unix://"}, "want unix:///absolute/path", "address"},
		{"unix with host", map[string]any{"address": "unix://host/x"}, "want unix:///absolute/path", "address"},
		{"query", map[string]any{"address": ok + "?x=1"}, "only scheme, host and port", "address"},
		{"format", map[string]any{"address": ok, "format": "json"}, `format: must be "rfc5424" or "rfc3164"; got "json"`, "format"},
		{"facility", map[string]any{"address": ok, "facility": "local8"}, `unknown facility "local8"`, "facility"},
		{"stdout severity", map[string]any{"address": ok, "stdout_severity": "loud"}, `unknown stdout_severity "loud"`, "stdout_severity"},
		{"stderr severity", map[string]any{"address": ok, "stderr_severity": ""}, `unknown stderr_severity ""`, "stderr_severity"},
		{"timeout zero", map[string]any{"address": ok, "connect_timeout": "0s"}, "must be positive", "connect_timeout"},
		{"queue negative", map[string]any{"address": ok, "max_queue": -1}, "max_queue: must be a whole number from 0; got -1", "max_queue"},
		{"tls option without tls", map[string]any{"address": ok, "tls_ca_file": notPEM}, "tls_ca_file: only valid with a tls:// address", "tls_ca_file"},
		{"skip verify without tls", map[string]any{"address": "udp://127.0.0.1:514", "tls_insecure_skip_verify": false}, "tls_insecure_skip_verify: only valid", "tls_insecure_skip_verify"},
		{"ca file missing", map[string]any{"address": "tls://127.0.0.1:6514", "tls_ca_file": "/nonexistent/ca.pem"}, "tls_ca_file", "tls_ca_file"},
		{"ca file not pem", map[string]any{"address": "tls://127.0.0.1:6514", "tls_ca_file": notPEM}, "no PEM certificate", "tls_ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig(configValues(t, tc.set))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Equal(t, strings.ToLower(err.Error()[:1]), err.Error()[:1], "errors are lowercase")
			assert.Equal(t, []string{tc.attr}, sdktest.AttributeNames(err), "one problem, named by its attribute")

			// Configure reports the same error, without connecting.
			cerr := testSink(t).Configure(configValues(t, tc.set))
			assert.EqualError(t, cerr, err.Error())
		})
	}
}

func TestSchemaDocumentsDefaults(t *testing.T) {
	seen := map[string]bool{}
	for _, a := range schema.Attributes {
		assert.False(t, seen[a.Name], "duplicate %s", a.Name)
		seen[a.Name] = true
		if a.Required {
			assert.Contains(t, a.Description, "Required", a.Name)
		} else {
			assert.Contains(t, a.Description, "Default", a.Name)
		}
	}
	assert.Equal(t, map[string]bool{
		"address": true, "format": true, "facility": true, "stdout_severity": true, "stderr_severity": true,
		"hostname": true, "tls_ca_file": true, "tls_insecure_skip_verify": true, "tls_server_name": true,
		"connect_timeout": true, "max_queue": true,
	}, seen)
	assert.Same(t, schema, New().ConfigSchema())
}

func TestConfigReportsEveryProblem(t *testing.T) {
	_, err := parseConfig(configValues(t, map[string]any{"address": "tcp://127.0.0.1", "format": "json", "facility": "local8", "max_queue": -1}))
	assert.Equal(t, []string{"address", "format", "facility", "max_queue"}, sdktest.AttributeNames(err))
}
