package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A process name travels as one segment of a URL path (/v1/processes/NAME)
// and as a word on a command line (prox stop NAME): names that a path
// cleaner or a flag parser would read as something else are refused.
func TestProcessNamesThatAreNotOnePathSegment(t *testing.T) {
	for _, name := range []string{".", "..", "-web", "--", "-", "a/b", "/", "a b", " ", "a\tb", "a\nb", "a\x00b", "a\x1b[31mb", "a\u00a0b", "é", "a%2Fb", "a?b", "a#b", ""} {
		t.Run(name, func(t *testing.T) {
			src := "\n  process " + quoteHCL(name) + " {}\n"
			_, diags := Parse([]byte(src), "prox.hcl")
			require.True(t, diags.HasErrors(), "%q was accepted", name)
			require.Len(t, diags, 1, "%s", diags.Error())
			d := diags[0]
			assert.Equal(t, "Invalid process name", d.Summary)
			require.NotNil(t, d.Subject)
			assert.Equal(t, "prox.hcl", d.Subject.Filename)
			assert.Equal(t, 2, d.Subject.Start.Line, "at the label")
			assert.Equal(t, 11, d.Subject.Start.Column, "at the label")
			assert.Contains(t, d.Detail, "letters, digits, '-', '_' and '.'")
			assert.Contains(t, d.Detail, "must not start with '-'")
			assert.Contains(t, d.Detail, `"." nor ".."`)
		})
	}
}

func TestProcessNamesAllowed(t *testing.T) {
	for _, name := range []string{"web", "a.b", ".hidden", "...", "a..b", "web-1", "_x", "x-", "9", "A_b.C-d"} {
		t.Run(name, func(t *testing.T) {
			cfg, diags := Parse([]byte("process "+quoteHCL(name)+" {}\n"), "prox.hcl")
			require.False(t, diags.HasErrors(), "%s", diags.Error())
			assert.Equal(t, name, cfg.Processes[0].Name)
		})
	}
}

// A Procfile's names follow the same rule, with the error at the
// Procfile's line, not in the converted configuration.
func TestProcfileNamesFollowTheSameRule(t *testing.T) {
	for _, name := range []string{".", "..", "-web", "a b"} {
		t.Run(name, func(t *testing.T) {
			src := "web: ok\n" + name + ": echo hi\n"
			_, diags := ParseProcfile(strings.NewReader(src), "Procfile")
			require.Len(t, diags, 1, "%s", diags.Error())
			d := diags[0]
			assert.Equal(t, "Invalid process name", d.Summary)
			require.NotNil(t, d.Subject)
			assert.Equal(t, "Procfile", d.Subject.Filename)
			assert.Equal(t, 2, d.Subject.Start.Line)
			assert.Contains(t, d.Detail, "must not start with '-'")
		})
	}
}

// quoteHCL quotes s as an HCL string literal, control characters as
// \uNNNN escapes.
func quoteHCL(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
