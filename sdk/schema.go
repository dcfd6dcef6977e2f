package sdk

import (
	"encoding/json"
	"fmt"
	"time"
)

// Attribute types a Schema can declare. The host decodes HCL values of these
// types and delivers them as JSON.
const (
	TypeString     = "string"
	TypeNumber     = "number"
	TypeBool       = "bool"
	TypeListString = "list(string)"
	TypeMapString  = "map(string)"
	// TypeDuration is a Go duration written as a string ("30s", "1m30s";
	// spaces around it ignored, an empty string is as if unset). The host
	// checks it, reporting a bad one at its line, and delivers it as a
	// JSON integer of nanoseconds, which decodes into a time.Duration.
	TypeDuration = "duration"
	// TypeInteger is a whole number. The host checks it, reporting a
	// fraction or a number out of int64's range at its line, and delivers
	// it as a JSON integer, which decodes into an int or int64.
	TypeInteger = "integer"
)

// Schema declares the attributes a component accepts in a block of prox.hcl.
// The host decodes the block against it, so a misspelt or mistyped attribute
// is reported with its file, line and column before the plugin sees it.
type Schema struct {
	Attributes []Attribute `json:"attributes"`
}

// Attribute is one attribute of a Schema.
type Attribute struct {
	// Name is the attribute's name in HCL and its key in the JSON values.
	Name string `json:"name"`
	// Type is one of the Type constants.
	Type string `json:"type"`
	// Required makes the host reject a block without the attribute.
	Required bool `json:"required,omitempty"`
	// Description is shown in documentation and errors.
	Description string `json:"description,omitempty"`
	// Default, when set, is the value of the attribute when the block
	// does not set it: the SDK puts it in the values before Configure
	// (and in a process's Settings before Start), in the form the host
	// delivers, so that the component decodes it like a value from the
	// block. Its Go type follows Type: a time.Duration for TypeDuration,
	// an int (or another integer type) for TypeInteger, a string, a bool,
	// a number, a []string or a map[string]string.
	Default any `json:"default,omitempty"`
}

// ApplyDefaults returns values (a JSON object keyed by attribute name, as
// the host delivers it, possibly empty) with every attribute that has a
// Default and is absent or null set to its Default. It returns values
// unchanged when no attribute has a Default; an error names an attribute
// whose Default does not fit its Type.
func (s *Schema) ApplyDefaults(values json.RawMessage) (json.RawMessage, error) {
	if s == nil {
		return values, nil
	}
	var obj map[string]json.RawMessage
	for _, a := range s.Attributes {
		if a.Default == nil {
			continue
		}
		if obj == nil {
			obj = map[string]json.RawMessage{}
			if len(values) > 0 {
				if err := json.Unmarshal(values, &obj); err != nil {
					return nil, fmt.Errorf("failed to decode config: %w", err)
				}
			}
		}
		if v, ok := obj[a.Name]; ok && string(v) != "null" {
			continue
		}
		v, err := defaultValue(a)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
		}
		obj[a.Name] = v
	}
	if obj == nil {
		return values, nil
	}
	return json.Marshal(obj)
}

// defaultValue returns a's Default in the JSON form the host delivers.
func defaultValue(a Attribute) (json.RawMessage, error) {
	ok := false
	switch a.Default.(type) {
	case time.Duration:
		ok = a.Type == TypeDuration
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		ok = a.Type == TypeInteger || a.Type == TypeNumber
	case float32, float64:
		ok = a.Type == TypeNumber
	case string:
		ok = a.Type == TypeString
	case bool:
		ok = a.Type == TypeBool
	case []string:
		ok = a.Type == TypeListString
	case map[string]string:
		ok = a.Type == TypeMapString
	}
	if !ok {
		return nil, fmt.Errorf("the default %#v does not fit the type %s", a.Default, a.Type)
	}
	return json.Marshal(a.Default)
}

// Config carries the values of a component's block, decoded by the host.
type Config struct {
	// APIVersion is the API version the host picked for this component.
	APIVersion int
	// Values is a JSON object keyed by attribute name; absent optional
	// attributes are null. It is empty when the block was absent.
	Values json.RawMessage
	// CheckOnly is set when the host only checks the configuration
	// (`prox validate`): Configure must report every problem of the
	// values, as it would for real, but open, create and connect nothing
	// (no file, no connection, no goroutine left running), and the
	// component will not be used. The host may configure it for real
	// later, in another process.
	CheckOnly bool
}

// Decode unmarshals the values into v, typically a pointer to a struct
// with json tags naming the attributes. Empty values leave v unchanged.
func (c *Config) Decode(v any) error {
	if c == nil || len(c.Values) == 0 {
		return nil
	}
	if err := json.Unmarshal(c.Values, v); err != nil {
		return fmt.Errorf("failed to decode config: %w", err)
	}
	return nil
}

// Configurable is implemented by components that take a config block
// (`runner "KIND" "NAME" { ... }` or `sink "KIND" "NAME" { ... }`).
// Components without it accept no attributes.
type Configurable interface {
	// ConfigSchema returns the schema of the component's block. It is called
	// before Configure and must not depend on configuration.
	ConfigSchema() *Schema
	// Configure receives the decoded values once, before any other call of
	// the component. An error fails the start of prox with its message:
	// at the attribute for an *AttributeError (AttributeErrorf), at the
	// block otherwise; join several with errors.Join to report them all.
	Configure(cfg *Config) error
}

// Shutdowner is implemented by components that hold resources to release
// when prox shuts the plugin down. Shutdown is called once, last.
type Shutdowner interface {
	Shutdown() error
}
