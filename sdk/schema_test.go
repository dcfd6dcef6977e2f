package sdk

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// defaultsSchema has a Default of each kind and an attribute without one.
var defaultsSchema = &Schema{Attributes: []Attribute{
	{Name: "timeout", Type: TypeDuration, Default: 30 * time.Second},
	{Name: "count", Type: TypeInteger, Default: 20},
	{Name: "mode", Type: TypeString, Default: "fast"},
	{Name: "plain", Type: TypeString},
}}

func TestApplyDefaults(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty values", ``, `{"timeout":30000000000,"count":20,"mode":"fast"}`},
		{"null and absent", `{"timeout":null,"plain":null}`, `{"timeout":30000000000,"count":20,"mode":"fast","plain":null}`},
		{"set values stay", `{"timeout":1000,"count":0,"mode":"","plain":"x"}`, `{"timeout":1000,"count":0,"mode":"","plain":"x"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := defaultsSchema.ApplyDefaults(json.RawMessage(tc.in))
			require.NoError(t, err)
			assert.JSONEq(t, tc.want, string(got))
		})
	}

	// The wire form of a duration decodes straight into a time.Duration.
	got, err := defaultsSchema.ApplyDefaults(nil)
	require.NoError(t, err)
	var v struct {
		Timeout time.Duration `json:"timeout"`
		Count   int           `json:"count"`
	}
	require.NoError(t, (&Config{Values: got}).Decode(&v))
	assert.Equal(t, 30*time.Second, v.Timeout)
	assert.Equal(t, 20, v.Count)

	// Without any Default, the values are left as they are.
	in := json.RawMessage(`{"plain":null}`)
	got, err = (&Schema{Attributes: []Attribute{{Name: "plain", Type: TypeString}}}).ApplyDefaults(in)
	require.NoError(t, err)
	assert.Equal(t, string(in), string(got))

	// A Default that does not fit its type is the plugin's bug, named.
	for _, bad := range []Attribute{
		{Name: "d", Type: TypeDuration, Default: "30s"},
		{Name: "i", Type: TypeInteger, Default: 2.5},
		{Name: "s", Type: TypeString, Default: 3},
	} {
		_, err := (&Schema{Attributes: []Attribute{bad}}).ApplyDefaults(nil)
		require.ErrorContains(t, err, `attribute "`+bad.Name+`"`)
	}
}
