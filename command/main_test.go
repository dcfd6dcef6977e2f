package command

import (
	"os"
	"testing"

	"github.com/hashicorp/go-plugin"
)

// TestMain lets the test binary serve the built-in plugins: the loader
// re-executes the running binary as `<binary> plugin-serve KIND NAME`,
// exactly as it re-executes prox.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "plugin-serve" {
		os.Exit(Run(os.Args[1:]))
	}
	code := m.Run()
	plugin.CleanupClients()
	os.Exit(code)
}
