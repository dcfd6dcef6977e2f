package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const modulePath = "github.com/prox-dev/prox"

// boundaries lists, per package prefix, the prox packages it may import
// (by prefix). A package matches the longest prefix. The rules are those
// of docs/architecture.md.
var boundaries = []struct {
	pkg     string
	allowed []string
}{
	// The SDK is self-contained, but for leaves of internal/ meant for both
	// sides.
	{"sdk", []string{"sdk", "internal/memtrim", "internal/wire"}},
	// The test harnesses are prox's host.
	{"sdk/sdktest", []string{"sdk", "internal/memtrim", "internal/wire", "internal/pluginhost"}},
	// The transport both sides of a plugin connection share.
	{"internal/wire", []string{"sdk/proto"}},
	// The host's side of the plugins: their clients, the hand-over's host.
	{"internal/pluginhost", []string{"sdk", "internal/wire"}},
	{"plugins/runner", []string{"sdk", "internal/procstat", "internal/runnertag"}},
	{"plugins/sink", []string{"sdk"}},
	{"plugins/builtin", []string{"sdk", "plugins/runner", "plugins/sink", "internal/version"}},
	{"plugins/loader", []string{"sdk", "internal/wire", "internal/pluginhost", "internal/runnertag"}},
	{"supervisor/config", []string{"supervisor/policy"}},
	{"supervisor/policy", nil},
	{"supervisor/control", []string{"supervisor", "logs", "sdk"}},
	{"supervisor/metrics", []string{"supervisor", "logs", "sdk", "internal/procstat"}},
	// prox top: the control API's client and types, nothing else.
	{"tui", []string{"supervisor/control"}},
	{"supervisor", []string{"sdk", "logs", "supervisor/policy"}},
	{"logs", []string{"sdk"}},
	{"internal/version", nil},
	{"internal/memtrim", nil},
	{"internal/testservers", nil},
	{"internal/rotate", nil},
	{"internal/procstat", nil},
	{"internal/runnertag", nil},
	// The composition root: everything but the CLI.
	{"agent", []string{"supervisor", "logs", "plugins/loader", "plugins/builtin", "sdk", "internal/pluginhost", "internal/version", "internal/profile", "internal/memtrim"}},
}

func TestPackageBoundaries(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...").Output()
	require.NoError(t, err)
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], modulePath), "/")
		rule := -1
		for i, b := range boundaries {
			if hasPrefix(pkg, b.pkg) && (rule < 0 || len(b.pkg) > len(boundaries[rule].pkg)) {
				rule = i
			}
		}
		if rule < 0 {
			continue // command and main: the CLI, which may import everything
		}
		for _, imp := range fields[1:] {
			if !strings.HasPrefix(imp, modulePath+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, modulePath+"/")
			ok := hasPrefix(dep, boundaries[rule].pkg) && boundaries[rule].pkg != "supervisor"
			for _, a := range boundaries[rule].allowed {
				ok = ok || hasPrefix(dep, a)
			}
			if boundaries[rule].pkg == "supervisor" && hasPrefix(dep, "supervisor/config") {
				ok = false // the supervisor receives values, not the config
			}
			assert.True(t, ok, "%s must not import %s", pkg, dep)
		}
	}
}

func hasPrefix(pkg, prefix string) bool {
	return pkg == prefix || strings.HasPrefix(pkg, prefix+"/")
}
