package sdktest

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Configure configures c as prox would with the block's values: it checks
// values against c.ConfigSchema() (every key declared, every value of its
// attribute's type, every required attribute present), sets the absent
// optional attributes to null, puts their Defaults in as the SDK does, and
// calls c.Configure with the highest API version the SDK speaks. Any error
// fails the test.
//
// Values are Go values: string, bool, a number (any integer or float
// type), []string (or []any of strings) and map[string]string (or
// map[string]any of strings); for a duration attribute a string as in HCL
// ("30s") or a time.Duration, for an integer attribute a whole number of
// any number type. They are delivered in the host's wire form (a duration
// as its nanoseconds).
func Configure(t testing.TB, c sdk.Configurable, values map[string]any) {
	t.Helper()
	if err := ConfigureError(t, c, values); err != nil {
		t.Fatalf("sdktest: Configure: %v", err)
	}
}

// ConfigureError is Configure for values that are valid for the schema but
// that c.Configure must refuse (a negative duration, say): it returns
// Configure's error, and fails the test if the values do not match the
// schema.
func ConfigureError(t testing.TB, c sdk.Configurable, values map[string]any) error {
	t.Helper()
	cfg, err := encode(c.ConfigSchema(), values)
	if err != nil {
		t.Fatalf("sdktest: the values do not match ConfigSchema: %v", err)
	}
	return c.Configure(cfg)
}

// Values returns the sdk.Config prox would deliver for a block of schema
// with values, checked and encoded as Configure does (Defaults included):
// for a test that calls a component's own parsing of its configuration.
func Values(t testing.TB, schema *sdk.Schema, values map[string]any) *sdk.Config {
	t.Helper()
	cfg, err := encode(schema, values)
	if err != nil {
		t.Fatalf("sdktest: the values do not match the schema: %v", err)
	}
	return cfg
}

// AttributeNames returns the attributes that err's sdk.AttributeErrors are
// about, in order (nil for none): what prox would point at, one diagnostic
// each, when Configure returns err.
func AttributeNames(err error) []string {
	var names []string
	for _, a := range sdk.AttributeErrors(err) {
		names = append(names, a.Attribute)
	}
	return names
}

// Settings returns the per-process settings of r as prox would deliver them
// in sdk.ProcessConfig.Settings, checked against r.ProcessSchema() like
// Configure checks a config block.
func Settings(t testing.TB, r sdk.ProcessConfigurable, values map[string]any) *sdk.Config {
	t.Helper()
	cfg, err := encode(r.ProcessSchema(), values)
	if err != nil {
		t.Fatalf("sdktest: the values do not match ProcessSchema: %v", err)
	}
	return cfg
}

// encode checks values against schema and encodes them as the host does.
func encode(schema *sdk.Schema, values map[string]any) (*sdk.Config, error) {
	out := map[string]any{}
	declared := map[string]sdk.Attribute{}
	if schema != nil {
		for _, a := range schema.Attributes {
			declared[a.Name] = a
			out[a.Name] = nil
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, ok := declared[k]
		if !ok {
			return nil, fmt.Errorf("attribute %q is not in the schema (it has %s)", k, attributeNames(schema))
		}
		v, err := convert(a, values[k])
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	for _, a := range declared {
		if a.Required && out[a.Name] == nil {
			return nil, fmt.Errorf("the required attribute %q is missing", a.Name)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding the values: %w", err)
	}
	if b, err = schema.ApplyDefaults(b); err != nil {
		return nil, err
	}
	return &sdk.Config{APIVersion: slices.Max(sdk.APIVersions), Values: b}, nil
}

// convert checks that v has the type of a and returns it in the JSON form
// the host sends.
func convert(a sdk.Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	bad := func() (any, error) {
		return nil, fmt.Errorf("attribute %q is %s, the value %#v is not", a.Name, a.Type, v)
	}
	switch a.Type {
	case sdk.TypeString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case sdk.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case sdk.TypeNumber:
		switch n := v.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
			return n, nil
		}
	case sdk.TypeDuration:
		switch d := v.(type) {
		case time.Duration:
			return int64(d), nil
		case string:
			// As the host reads it.
			s := strings.TrimSpace(d)
			if s == "" {
				return nil, nil
			}
			n, err := time.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("attribute %q is a duration: %w", a.Name, err)
			}
			return int64(n), nil
		}
	case sdk.TypeInteger:
		switch n := v.(type) {
		case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
			return n, nil
		case float32, float64:
			f := reflect.ValueOf(n).Float()
			if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
				return int64(f), nil
			}
			return nil, fmt.Errorf("attribute %q is an integer, the value %v is not a whole number", a.Name, f)
		}
	case sdk.TypeListString:
		switch l := v.(type) {
		case []string:
			return l, nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return bad()
				}
				out[i] = s
			}
			return out, nil
		}
	case sdk.TypeMapString:
		switch m := v.(type) {
		case map[string]string:
			return m, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, e := range m {
				s, ok := e.(string)
				if !ok {
					return bad()
				}
				out[k] = s
			}
			return out, nil
		}
	default:
		return nil, fmt.Errorf("attribute %q has the unknown type %q", a.Name, a.Type)
	}
	return bad()
}

func attributeNames(s *sdk.Schema) string {
	if s == nil || len(s.Attributes) == 0 {
		return "no attributes"
	}
	names := make([]string, len(s.Attributes))
	for i, a := range s.Attributes {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}
