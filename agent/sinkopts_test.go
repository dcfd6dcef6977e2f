package agent

import (
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSinkDrainTimeoutAttribute(t *testing.T) {
	for _, tc := range []struct {
		src   string
		want  time.Duration
		error string
	}{
		{src: `drain_timeout = "2m"`, want: 2 * time.Minute},
		{src: `path = "x"`, want: 0}, // the default applies
		{src: `drain_timeout = "soon"`, error: `prox.hcl:1,17-23: Invalid drain timeout; drain_timeout must be a positive duration such as "10s" or "1m"; "soon" is not.`},
		{src: `drain_timeout = "0s"`, error: `Invalid drain timeout`},
	} {
		f, diags := hclparse.NewParser().ParseHCL([]byte(tc.src), "prox.hcl")
		require.False(t, diags.HasErrors(), diags.Error())
		opts, rest, diags := sinkHostOptions(&config.PluginBlock{Kind: "file", Name: "x", Body: f.Body}, nil)
		if tc.error != "" {
			require.True(t, diags.HasErrors(), tc.src)
			assert.Contains(t, diags.Error(), tc.error)
			continue
		}
		require.False(t, diags.HasErrors(), diags.Error())
		assert.Equal(t, tc.want, opts.DrainTimeout, tc.src)
		attrs, _ := rest.JustAttributes()
		assert.NotContains(t, attrs, "drain_timeout", "prox's own attribute is not the plugin's")
	}
}
