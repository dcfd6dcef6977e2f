package builtin

import (
	"testing"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attributeNames returns the names of a schema's attributes.
func attributeNames(s *sdk.Schema) []string {
	if s == nil {
		return nil
	}
	var names []string
	for _, a := range s.Attributes {
		names = append(names, a.Name)
	}
	return names
}

// Schemas answers for every built-in component, with the schemas its
// plugin serves, and for nothing else.
func TestSchemas(t *testing.T) {
	for _, c := range Components() {
		_, process, ok := Schemas(c.Kind, c.Name)
		require.True(t, ok, c.String())
		if c.Kind == sdk.KindSink {
			assert.Nil(t, process, "%s: a sink has no per-process block", c)
		}
	}

	config, process, ok := Schemas(sdk.KindSink, "file")
	require.True(t, ok)
	assert.Contains(t, attributeNames(config), "path")
	assert.Nil(t, process)

	config, process, ok = Schemas(sdk.KindRunner, "container")
	require.True(t, ok)
	assert.Contains(t, attributeNames(config), "host")
	assert.Contains(t, attributeNames(process), "image")

	config, process, ok = Schemas(sdk.KindRunner, "exec")
	require.True(t, ok)
	assert.Empty(t, attributeNames(config), "the exec runner takes no settings")
	assert.Nil(t, process)

	_, _, ok = Schemas(sdk.KindRunner, "file")
	assert.False(t, ok, "file is a sink, not a runner")
	_, _, ok = Schemas(sdk.KindSink, "nope")
	assert.False(t, ok)
}

// The built-ins keep the SDK's process-wide tuning, which the SDK leaves
// off by default.
func TestBuiltinsTakeTheProcessWideTuning(t *testing.T) {
	for _, c := range Components() {
		cfg := serveConfig(c.Kind, c.Name)
		assert.True(t, cfg.DefaultBufferPool, "%s: the SDK's buffer pool as gRPC's default", c)
		assert.True(t, cfg.ReleaseMemory, "%s: memory released after bursts of starts", c)
		d := cfg.Describe()
		assert.Len(t, append(d.Runners, d.Sinks...), 1, "%s: serves its component alone", c)
	}
}
