package loader

import (
	"encoding/json"
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/prox-dev/prox/sdk"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// attributeType maps a schema type name to its cty type.
func attributeType(t string) (cty.Type, error) {
	switch t {
	case sdk.TypeString:
		return cty.String, nil
	case sdk.TypeNumber:
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
