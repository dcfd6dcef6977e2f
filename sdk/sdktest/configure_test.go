package sdktest

import (
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var typedSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "timeout", Type: sdk.TypeDuration},
	{Name: "grace", Type: sdk.TypeDuration, Default: 5 * time.Second},
	{Name: "count", Type: sdk.TypeInteger, Default: 3},
}}

// Durations and integers reach the component in the host's wire form, and
// the Defaults fill what the values leave out.
func TestEncodeDurationsIntegersDefaults(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"as in HCL", map[string]any{"timeout": " 1m30s ", "count": 7}, `{"timeout":90000000000,"grace":5000000000,"count":7}`},
		{"Go values", map[string]any{"timeout": time.Second, "grace": 2 * time.Second, "count": 7.0}, `{"timeout":1000000000,"grace":2000000000,"count":7}`},
		{"empty duration is unset", map[string]any{"timeout": ""}, `{"timeout":null,"grace":5000000000,"count":3}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := encode(typedSchema, tc.values)
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(cfg.Values))
		})
	}
	for _, bad := range []map[string]any{
		{"timeout": "soon"},
		{"timeout": 5},
		{"count": 2.5},
		{"count": "3"},
	} {
		_, err := encode(typedSchema, bad)
		assert.Error(t, err, "%v", bad)
	}
}
