package loader

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/prox-dev/prox/sdk"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// attributeType maps a schema type name to its cty type.
func attributeType(t string) (cty.Type, error) {
	switch t {
	case sdk.TypeString, sdk.TypeDuration:
		return cty.String, nil
	case sdk.TypeNumber, sdk.TypeInteger:
		return cty.Number, nil
	case sdk.TypeBool:
		return cty.Bool, nil
	case sdk.TypeListString:
		return cty.List(cty.String), nil
	case sdk.TypeMapString:
		return cty.Map(cty.String), nil
	}
	return cty.NilType, fmt.Errorf("unknown attribute type %q", t)
}

// Spec builds the hcldec spec of a plugin's schema. A schema error is the
// plugin's fault and names the attribute.
func Spec(s *sdk.Schema) (hcldec.ObjectSpec, error) {
	spec := hcldec.ObjectSpec{}
	if s == nil {
		return spec, nil
	}
	for _, a := range s.Attributes {
		ty, err := attributeType(a.Type)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		spec[a.Name] = &hcldec.AttrSpec{Name: a.Name, Type: ty, Required: a.Required}
	}
	return spec, nil
}

// Decode decodes body against the plugin's schema with the config's
// evaluation context and returns the values as the JSON object the plugin
// receives. Unknown, missing and mistyped attributes are diagnostics at
// their lines. A nil body decodes as an empty block; missing is the range
// to blame when a required attribute is absent then (what names the block,
// e.g. `container block`).
func Decode(body hcl.Body, schema *sdk.Schema, ctx *hcl.EvalContext, missing hcl.Range, what string) (json.RawMessage, hcl.Diagnostics) {
	spec, err := Spec(schema)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin schema",
			Detail:   fmt.Sprintf("The plugin's schema for the %s is invalid: %v.", what, err),
			Subject:  missing.Ptr(),
		}}
	}
	if body == nil {
		var diags hcl.Diagnostics
		for _, a := range attributes(schema) {
			if a.Required {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Missing required argument",
					Detail:   fmt.Sprintf("The %s needs the argument %q (%s).", what, a.Name, a.Description),
					Subject:  missing.Ptr(),
				})
			}
		}
		if diags.HasErrors() {
			return nil, diags
		}
		body = hcl.EmptyBody()
	}
	val, diags := hcldec.Decode(body, spec, ctx)
	if diags.HasErrors() {
		return nil, diags
	}
	val, diags = wireValues(val, body, spec, schema, what, diags)
	if diags.HasErrors() {
		return nil, diags
	}
	raw, err := ctyjson.Marshal(val, val.Type())
	if err != nil {
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value",
			Detail:   fmt.Sprintf("The %s could not be encoded: %v.", what, err),
			Subject:  missing.Ptr(),
		})
	}
	return raw, diags
}

func attributes(s *sdk.Schema) []sdk.Attribute {
	if s == nil {
		return nil
	}
	return s.Attributes
}

// wireValues checks the duration and integer attributes of val and turns
// them into their wire form: a duration (a string) into its nanoseconds, an
// empty one into null; an integer is checked to be whole and within int64.
// A bad value is a diagnostic at its attribute.
func wireValues(val cty.Value, body hcl.Body, spec hcldec.ObjectSpec, schema *sdk.Schema, what string, diags hcl.Diagnostics) (cty.Value, hcl.Diagnostics) {
	var attrs map[string]cty.Value
	for _, a := range attributes(schema) {
		if a.Type != sdk.TypeDuration && a.Type != sdk.TypeInteger {
			continue
		}
		v := val.GetAttr(a.Name)
		if v.IsNull() || !v.IsKnown() {
			if a.Type == sdk.TypeDuration {
				v = cty.NullVal(cty.Number)
			}
		} else {
			var detail string
			v, detail = wireValue(a.Type, v)
			if detail != "" {
				rng := hcldec.SourceRange(body, spec[a.Name])
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid " + a.Type,
					Detail:   fmt.Sprintf("The %s's argument %q %s.", what, a.Name, detail),
					Subject:  rng.Ptr(),
				})
				continue
			}
		}
		if attrs == nil {
			attrs = val.AsValueMap()
		}
		attrs[a.Name] = v
	}
	if attrs == nil || diags.HasErrors() {
		return val, diags
	}
	return cty.ObjectVal(attrs), diags
}

// wireValue returns the wire form of the known, non-null v of a duration
// or integer attribute, or what is wrong with it.
func wireValue(typ string, v cty.Value) (cty.Value, string) {
	if typ == sdk.TypeDuration {
		s := strings.TrimSpace(v.AsString())
		if s == "" {
			return cty.NullVal(cty.Number), ""
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return cty.NilVal, fmt.Sprintf("must be a duration such as \"30s\" or \"1m30s\": %v", err)
		}
		return cty.NumberIntVal(int64(d)), ""
	}
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return cty.NilVal, fmt.Sprintf("must be a whole number; got %s", bf.Text('g', -1))
	}
	if _, acc := bf.Int64(); acc != big.Exact {
		return cty.NilVal, fmt.Sprintf("is out of range; got %s", bf.Text('g', -1))
	}
	return v, ""
}
