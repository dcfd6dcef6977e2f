package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "name.txt"), []byte("prox\n"), 0o644))
	t.Setenv("PROX_TEST_FN", "value")

	tests := []struct {
		expr string
		want string
	}{
		{`env("PROX_TEST_FN")`, "value"},
		{`env("PROX_TEST_FN_UNSET")`, ""},
		{`file("name.txt")`, "prox\n"},
		{`file("` + filepath.Join(dir, "name.txt") + `")`, "prox\n"},
		{`upper("a")`, "A"},
		{`lower("A")`, "a"},
		{`join(",", ["a", "b"])`, "a,b"},
		{`format("%s-%d", "a", 1)`, "a-1"},
		{`join(" ", concat(["a"], ["b"]))`, "a b"},
		{`coalesce("", "b")`, "b"},
		{`coalesce(env("PROX_TEST_FN_UNSET"), "default")`, "default"},
		{`coalesce(env("PROX_TEST_FN"), "default")`, "value"},
		{`trimspace(" a ")`, "a"},
		{`replace("a-b", "-", "_")`, "a_b"},
		{`join("|", split(",", "a,b"))`, "a|b"},
		{`tostring(length(["a", "b"]))`, "2"},
		{`chomp(file("name.txt"))`, "prox"},
	}
	ctx := evalContext(dir, nil)
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			expr, diags := hclsyntax.ParseExpression([]byte(tt.expr), "expr.hcl", hcl.InitialPos)
			require.False(t, diags.HasErrors(), "%s", diags.Error())
			got, ok, diags := evalString(expr, ctx, "value")
			require.False(t, diags.HasErrors(), "%s", diags.Error())
			require.True(t, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFileFunctionMissing(t *testing.T) {
	expr, diags := hclsyntax.ParseExpression([]byte(`file("missing.txt")`), "expr.hcl", hcl.InitialPos)
	require.False(t, diags.HasErrors())
	_, ok, diags := evalString(expr, evalContext(t.TempDir(), nil), "value")
	assert.False(t, ok)
	require.True(t, diags.HasErrors())
	assert.Contains(t, diags.Error(), `cannot read "missing.txt"`)
}
