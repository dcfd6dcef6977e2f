package loader

import (
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/prox-dev/prox/sdk"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// missingRange is the range blamed for attributes missing from an absent
// block.
var missingRange = hcl.Range{
	Filename: "prox.hcl",
	Start:    hcl.Pos{Line: 7, Column: 3, Byte: 60},
	End:      hcl.Pos{Line: 7, Column: 12, Byte: 69},
}

var decodeSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "image", Type: sdk.TypeString, Required: true, Description: "the container image"},
	{Name: "cpus", Type: sdk.TypeNumber},
	{Name: "privileged", Type: sdk.TypeBool},
	{Name: "volumes", Type: sdk.TypeListString},
	{Name: "labels", Type: sdk.TypeMapString},
}}

// wireSchema has the attribute types whose wire form is not their HCL form.
var wireSchema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "timeout", Type: sdk.TypeDuration},
	{Name: "count", Type: sdk.TypeInteger},
	{Name: "big", Type: sdk.TypeInteger},
	{Name: "grace", Type: sdk.TypeDuration, Default: 5 * time.Second},
}}

func TestDecode(t *testing.T) {
	t.Setenv("PROX_LOADER_DECODE_TEST", "from-the-env")
	evalCtx := &hcl.EvalContext{Functions: config.Functions(t.TempDir())}
	tests := []struct {
		name   string
		src    *string // nil: no block
		schema *sdk.Schema
		json   string
		// For a failure: the diagnostic's summary, a piece of its detail,
		// and the line it blames (0: the missing range).
		summary string
		detail  string
		line    int
	}{
		{
			name: "all types",
			src: ptr(`image = "busybox"
cpus = 1.5
privileged = true
volumes = ["/a:/a", "/b:/b"]
labels = { team = "web", tier = "front" }
`),
			schema: decodeSchema,
			json:   `{"image":"busybox","cpus":1.5,"privileged":true,"volumes":["/a:/a","/b:/b"],"labels":{"team":"web","tier":"front"}}`,
		},
		{
			name:   "absent optional attributes are null",
			src:    ptr(`image = "busybox"`),
			schema: decodeSchema,
			json:   `{"image":"busybox","cpus":null,"privileged":null,"volumes":null,"labels":null}`,
		},
		{
			name:   "conversions",
			src:    ptr(`image = 42` + "\n" + `privileged = "true"` + "\n" + `cpus = "2"`),
			schema: decodeSchema,
			json:   `{"image":"42","cpus":2,"privileged":true,"volumes":null,"labels":null}`,
		},
		{
			name:   "env function",
			src:    ptr(`image = "reg/${env("PROX_LOADER_DECODE_TEST")}"` + "\n" + `labels = { who = env("PROX_LOADER_DECODE_TEST") }`),
			schema: decodeSchema,
			json:   `{"image":"reg/from-the-env","cpus":null,"privileged":null,"volumes":null,"labels":{"who":"from-the-env"}}`,
		},
		{
			name:    "unknown attribute",
			src:     ptr(`image = "busybox"` + "\n\n" + `imgae = "typo"`),
			schema:  decodeSchema,
			summary: "Unsupported argument",
			detail:  `"imgae"`,
			line:    3,
		},
		{
			name:    "missing required attribute",
			src:     ptr(`cpus = 2`),
			schema:  decodeSchema,
			summary: "Missing required argument",
			detail:  `"image"`,
			line:    1,
		},
		{
			name:    "wrong type",
			src:     ptr(`image = "busybox"` + "\n" + `cpus = "many"`),
			schema:  decodeSchema,
			summary: "Incorrect attribute value type",
			line:    2,
		},
		{
			name:    "list for a string",
			src:     ptr(`image = ["a", "b"]`),
			schema:  decodeSchema,
			summary: "Incorrect attribute value type",
			line:    1,
		},
		{
			name:    "attributes without a schema",
			src:     ptr(`image = "busybox"`),
			schema:  nil,
			summary: "Unsupported argument",
			line:    1,
		},
		{
			name:   "empty block without a schema",
			src:    ptr(""),
			schema: nil,
			json:   `{}`,
		},
		{
			name:    "no block with a required attribute",
			schema:  decodeSchema,
			summary: "Missing required argument",
			detail:  `The container block needs the argument "image" (the container image).`,
		},
		{
			name:   "no block without required attributes",
			schema: &sdk.Schema{Attributes: []sdk.Attribute{{Name: "debug", Type: sdk.TypeBool}}},
			json:   `{"debug":null}`,
		},
		{
			name:   "no block and no schema",
			schema: nil,
			json:   `{}`,
		},
		{
			name:   "durations and integers in their wire form",
			src:    ptr(`timeout = " 1m30s "` + "\n" + `count = 12` + "\n" + `big = "9007199254740993"`),
			schema: wireSchema,
			json:   `{"timeout":90000000000,"count":12,"big":9007199254740993,"grace":null}`,
		},
		{
			name:   "an empty or absent duration is null",
			src:    ptr(`timeout = ""`),
			schema: wireSchema,
			json:   `{"timeout":null,"count":null,"big":null,"grace":null}`,
		},
		{
			name:    "bad duration",
			src:     ptr(`count = 1` + "\n\n" + `timeout = "soon"`),
			schema:  wireSchema,
			summary: "Invalid duration",
			detail:  `The container block's argument "timeout" must be a duration such as "30s" or "1m30s": time: invalid duration "soon".`,
			line:    3,
		},
		{
			name:    "duration of the wrong type",
			src:     ptr(`timeout = ["1s"]`),
			schema:  wireSchema,
			summary: "Incorrect attribute value type",
			line:    1,
		},
		{
			name:    "fraction for an integer",
			src:     ptr(`timeout = "1s"` + "\n" + `count = 2.5`),
			schema:  wireSchema,
			summary: "Invalid integer",
			detail:  `The container block's argument "count" must be a whole number; got 2.5.`,
			line:    2,
		},
		{
			name:    "integer out of range",
			src:     ptr(`count = 1e19`),
			schema:  wireSchema,
			summary: "Invalid integer",
			detail:  `"count" is out of range; got 1e+19`,
			line:    1,
		},
		{
			name:    "invalid schema",
			src:     ptr(`x = 1`),
			schema:  &sdk.Schema{Attributes: []sdk.Attribute{{Name: "x", Type: "float"}}},
			summary: "Invalid plugin schema",
			detail:  `attribute "x": unknown attribute type "float"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body hcl.Body
			if tt.src != nil {
				f, diags := hclsyntax.ParseConfig([]byte(*tt.src), "prox.hcl", hcl.InitialPos)
				require.False(t, diags.HasErrors(), diags.Error())
				body = f.Body
			}
			got, diags := Decode(body, tt.schema, evalCtx, missingRange, "container block")
			if tt.summary == "" {
				require.False(t, diags.HasErrors(), diags.Error())
				assert.JSONEq(t, tt.json, string(got))
				return
			}
			require.True(t, diags.HasErrors(), "decoded to %s", got)
			assert.Nil(t, got)
			d := diags[0]
			assert.Equal(t, hcl.DiagError, d.Severity)
			assert.Equal(t, tt.summary, d.Summary)
			assert.Contains(t, d.Detail, tt.detail)
			require.NotNil(t, d.Subject)
			if tt.line == 0 {
				assert.Equal(t, missingRange, *d.Subject)
			} else {
				assert.Equal(t, "prox.hcl", d.Subject.Filename)
				assert.Equal(t, tt.line, d.Subject.Start.Line, "%s", d.Subject)
			}
		})
	}
}

// Every required attribute missing from an absent block is reported.
func TestDecodeNilBodyReportsEveryRequiredAttribute(t *testing.T) {
	schema := &sdk.Schema{Attributes: []sdk.Attribute{
		{Name: "a", Type: sdk.TypeString, Required: true},
		{Name: "b", Type: sdk.TypeString},
		{Name: "c", Type: sdk.TypeNumber, Required: true},
	}}
	_, diags := Decode(nil, schema, nil, missingRange, "vm block")
	require.Len(t, diags, 2)
	assert.Contains(t, diags[0].Detail, `"a"`)
	assert.Contains(t, diags[1].Detail, `"c"`)
}

func TestSpecRejectsUnknownTypes(t *testing.T) {
	spec, err := Spec(&sdk.Schema{Attributes: []sdk.Attribute{{Name: "ok", Type: sdk.TypeMapString}}})
	require.NoError(t, err)
	assert.Contains(t, spec, "ok")
	_, err = Spec(&sdk.Schema{Attributes: []sdk.Attribute{{Name: "bad", Type: "list(number)"}}})
	require.ErrorContains(t, err, `attribute "bad"`)
}

func ptr(s string) *string { return &s }
