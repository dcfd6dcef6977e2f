package sdk

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProtocolReferenceCoversTheProto keeps docs/plugins.md's protocol
// reference in step with plugin.proto: every service, RPC, message and
// enum (and every enum value) the proto declares is named in the guide, in
// backquotes.
func TestProtocolReferenceCoversTheProto(t *testing.T) {
	proto, err := os.ReadFile(filepath.Join("proto", "plugin.proto"))
	require.NoError(t, err)
	guide, err := os.ReadFile(filepath.Join("..", "docs", "plugins.md"))
	require.NoError(t, err)

	// Comments may name things that do not exist; only declarations count.
	var code strings.Builder
	for _, line := range strings.Split(string(proto), "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		code.WriteString(line + "\n")
	}
	decl := regexp.MustCompile(`(?m)^\s*(service|rpc|message|enum)\s+([A-Za-z_][A-Za-z0-9_]*)`)
	enumValue := regexp.MustCompile(`(?m)^\s*([A-Z][A-Z0-9_]*)\s*=\s*\d+\s*;`)
	found := map[string]int{}
	for _, m := range decl.FindAllStringSubmatch(code.String(), -1) {
		found[m[1]]++
		assert.Contains(t, string(guide), "`"+m[2]+"`", "docs/plugins.md does not name the %s %s of plugin.proto", m[1], m[2])
	}
	for _, m := range enumValue.FindAllStringSubmatch(code.String(), -1) {
		found["enum value"]++
		assert.Contains(t, string(guide), "`"+m[1]+"`", "docs/plugins.md does not name the enum value %s of plugin.proto", m[1])
	}
	// The parse found what the proto is made of.
	for _, kind := range []string{"service", "rpc", "message", "enum", "enum value"} {
		assert.Positive(t, found[kind], "no %s found in plugin.proto", kind)
	}
	assert.Equal(t, 3, found["service"], "Base, Runner and Sink")
}
