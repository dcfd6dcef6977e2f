package sdk

import (
	"encoding/json"
	"fmt"
)

// Attribute types a Schema can declare. The host decodes HCL values of these
// types and delivers them as JSON.
const (
	TypeString     = "string"
	TypeNumber     = "number"
	TypeBool       = "bool"
	TypeListString = "list(string)"
	TypeMapString  = "map(string)"
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
