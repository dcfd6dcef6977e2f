package config

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDotenv(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want map[string]string
	}{
		{"empty", "", map[string]string{}},
		{"comments and blanks", "# comment\n\n   \n  # indented comment\nA=1\n", map[string]string{"A": "1"}},
		{"plain", "A=1\nB = two \n", map[string]string{"A": "1", "B": "two"}},
		{"export", "export A=1\nexport\tB=2\nexported=3\n", map[string]string{"A": "1", "B": "2", "exported": "3"}},
		{"empty value", "A=\nB=   \nC= # only a comment\n", map[string]string{"A": "", "B": "", "C": ""}},
		{"unquoted comment", "A=value # comment\nB=value\t# tab comment\nC=a#b\n", map[string]string{"A": "value", "B": "value", "C": "a#b"}},
		{"equals in value", "URL=postgres://u:p@h/db?x=1\n", map[string]string{"URL": "postgres://u:p@h/db?x=1"}},
		{"single quoted literal", `A='a \n "b" # c'` + "\nB='' # comment\n", map[string]string{"A": `a \n "b" # c`, "B": ""}},
		{"double quoted escapes", `A="line1\nline2\t\"q\" \\ \$HOME \x"` + "\n", map[string]string{"A": "line1\nline2\t\"q\" \\ $HOME \\x"}},
		{"double quoted comment", `A="a # not a comment" # comment` + "\n", map[string]string{"A": "a # not a comment"}},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"crlf", "A=1\r\nB=\"2\"\r\n", map[string]string{"A": "1", "B": "2"}},
		{"dotted key", "a.b_C=1\n", map[string]string{"a.b_C": "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDotenv(strings.NewReader(tt.src))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDotenvErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string
	}{
		{"missing equals", "A=1\n\n# c\nNOPE\n", "line 4: expected KEY=VALUE"},
		{"bad key", "A=1\n1A=2\n", `line 2: invalid variable name "1A"`},
		{"empty key", "=2\n", `line 1: invalid variable name ""`},
		{"key with space", "A B=2\n", `line 1: invalid variable name "A B"`},
		{"unterminated single", "A=1\nB='abc\n", "line 2: B: unterminated single-quoted value"},
		{"unterminated double", "A=\"abc\\\"\n", "line 1: A: unterminated double-quoted value"},
		{"garbage after quote", "\n\nA=\"abc\" def\n", `line 3: A: unexpected "def" after quoted value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDotenv(strings.NewReader(tt.src))
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}
}
