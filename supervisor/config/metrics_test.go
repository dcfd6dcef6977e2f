package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsBlock(t *testing.T) {
	cfg := loadOK(t, "process \"a\" {\n  command = [\"true\"]\n}\n")
	assert.Nil(t, cfg.Metrics, "off by default")

	cfg = loadOK(t, "metrics {\n  address = \"127.0.0.1:9464\"\n}\nprocess \"a\" {\n  command = [\"true\"]\n}\n")
	require.NotNil(t, cfg.Metrics)
	assert.Equal(t, "127.0.0.1:9464", cfg.Metrics.Address)
	assert.False(t, cfg.Metrics.AllowRemote)

	for _, addr := range []string{"[::1]:9464", "localhost:0", "127.0.0.2:1"} {
		cfg = loadOK(t, "metrics {\n  address = \""+addr+"\"\n}\n")
		assert.Equal(t, addr, cfg.Metrics.Address)
	}
	cfg = loadOK(t, "metrics {\n  address      = \"0.0.0.0:9464\"\n  allow_remote = true\n}\n")
	assert.Equal(t, "0.0.0.0:9464", cfg.Metrics.Address)
	assert.True(t, cfg.Metrics.AllowRemote)
}

// TestMetricsAddressNotLoopbackIsRefused: an address other hosts reach
// needs allow_remote, and the error points at the address's line.
func TestMetricsAddressErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, detail string
		line              int
	}{
		{"remote", "process \"a\" {\n  command = [\"true\"]\n}\nmetrics {\n  address = \"0.0.0.0:9464\"\n}\n", `"0.0.0.0" is not a loopback address: the metrics listener is loopback only`, 5},
		{"every interface", "metrics {\n  address = \":9464\"\n}\n", "An empty host listens on every interface", 2},
		{"host name", "metrics {\n  address = \"example.com:9464\"\n}\n", `"example.com" is not a loopback address`, 2},
		{"no port", "metrics {\n  address = \"127.0.0.1\"\n}\n", "The address must be HOST:PORT", 2},
		{"bad port", "metrics {\n  address = \"127.0.0.1:http\"\n}\n", `The port "http" is not a number`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, diags := Parse([]byte(tc.src), "prox.hcl")
			require.Len(t, diags, 1, "%s", diags.Error())
			assert.Equal(t, "Invalid metrics address", diags[0].Summary)
			assert.Contains(t, diags[0].Detail, tc.detail)
			assert.Equal(t, tc.line, diags[0].Subject.Start.Line)
		})
	}
	_, diags := Parse([]byte("metrics {\n  address = \"127.0.0.1:1\"\n}\nmetrics {\n  address = \"127.0.0.1:2\"\n}\n"), "prox.hcl")
	require.Len(t, diags, 1)
	assert.Equal(t, "Duplicate metrics block", diags[0].Summary)
	assert.Equal(t, 4, diags[0].Subject.Start.Line)
}
