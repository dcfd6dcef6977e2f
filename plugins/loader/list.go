package loader

import (
	"os"

	"github.com/prox-dev/prox/sdk"
)

// Listed is an external plugin found by List: its file, and what it says
// it provides, or why that could not be read.
type Listed struct {
	External
	// Description is the plugin's `describe` output; nil when Err is set.
	Description *sdk.Description
	// Err says why the plugin could not be described: a checksum that
	// does not match (the file is then never run), a binary that fails.
	Err error
}

// List describes every external plugin the loader would consider, in the
// order Resolve considers them: the config's plugin blocks, then the
// prox-plugin-* executables of dirs (the first file of a name wins). env is
// the environment of the `describe` runs; nil means os.Environ().
func List(external []External, dirs []string, env []string) []Listed {
	if env == nil {
		env = os.Environ()
	}
	candidates := append(append([]External{}, external...), dirPlugins(dirs)...)
	out := make([]Listed, 0, len(candidates))
	for _, ext := range candidates {
		src := &Source{Path: ext.Path, SHA256: ext.SHA256, Plugin: ext.Name}
		d, err := describe(src, env)
		out = append(out, Listed{External: ext, Description: d, Err: err})
	}
	return out
}
