package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// evalContext returns the evaluation context of a configuration whose
// folder is dir: no variables, the env and file functions and a selection
// of the go-cty standard library.
func evalContext(dir string, dotenv map[string]string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: FunctionsWith(dir, dotenv)}
}

// Functions returns the functions available to expressions of a
// configuration whose folder is dir, keyed by name.
func Functions(dir string) map[string]function.Function {
	return FunctionsWith(dir, nil)
}

// FunctionsWith is Functions for a configuration whose dotenv file holds
// dotenv: env("NAME") is prox's environment variable NAME when it is set,
// else dotenv's NAME (docker compose's order).
func FunctionsWith(dir string, dotenv map[string]string) map[string]function.Function {
	return map[string]function.Function{
		"env":  makeEnvFunc(dotenv),
		"file": makeFileFunc(dir),

		"abs":           stdlib.AbsoluteFunc,
		"ceil":          stdlib.CeilFunc,
		"chomp":         stdlib.ChompFunc,
		"coalesce":      coalesceFunc,
		"coalescelist":  stdlib.CoalesceListFunc,
		"compact":       stdlib.CompactFunc,
		"concat":        stdlib.ConcatFunc,
		"contains":      stdlib.ContainsFunc,
		"distinct":      stdlib.DistinctFunc,
		"element":       stdlib.ElementFunc,
		"flatten":       stdlib.FlattenFunc,
		"floor":         stdlib.FloorFunc,
		"format":        stdlib.FormatFunc,
		"formatlist":    stdlib.FormatListFunc,
		"indent":        stdlib.IndentFunc,
		"join":          stdlib.JoinFunc,
		"jsondecode":    stdlib.JSONDecodeFunc,
		"jsonencode":    stdlib.JSONEncodeFunc,
		"keys":          stdlib.KeysFunc,
		"length":        stdlib.LengthFunc,
		"lookup":        stdlib.LookupFunc,
		"lower":         stdlib.LowerFunc,
		"max":           stdlib.MaxFunc,
		"merge":         stdlib.MergeFunc,
		"min":           stdlib.MinFunc,
		"parseint":      stdlib.ParseIntFunc,
		"range":         stdlib.RangeFunc,
		"regex":         stdlib.RegexFunc,
		"regexall":      stdlib.RegexAllFunc,
		"regex_replace": stdlib.RegexReplaceFunc,
		"replace":       stdlib.ReplaceFunc,
		"reverse":       stdlib.ReverseListFunc,
		"slice":         stdlib.SliceFunc,
		"sort":          stdlib.SortFunc,
		"split":         stdlib.SplitFunc,
		"strlen":        stdlib.StrlenFunc,
		"strrev":        stdlib.ReverseFunc,
		"substr":        stdlib.SubstrFunc,
		"title":         stdlib.TitleFunc,
		"tolist":        stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":         stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":      stdlib.MakeToFunc(cty.Number),
		"toset":         stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":      stdlib.MakeToFunc(cty.String),
		"trim":          stdlib.TrimFunc,
		"trimprefix":    stdlib.TrimPrefixFunc,
		"trimspace":     stdlib.TrimSpaceFunc,
		"trimsuffix":    stdlib.TrimSuffixFunc,
		"upper":         stdlib.UpperFunc,
		"values":        stdlib.ValuesFunc,
		"zipmap":        stdlib.ZipmapFunc,
	}
}

// makeEnvFunc returns env(): the value of an environment variable, else
// of the dotenv file's variable, "" when neither is set.
func makeEnvFunc(dotenv map[string]string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of the named environment variable (or, when it is not set, the .env file's), or an empty string.",
		Params:      []function.Parameter{{Name: "name", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			if v, ok := os.LookupEnv(name); ok {
				return cty.StringVal(v), nil
			}
			return cty.StringVal(dotenv[name]), nil
		},
	})
}

// coalesceFunc returns its first argument that is neither null nor an
// empty string, so that coalesce(env("X"), "default") works as expected.
var coalesceFunc = function.New(&function.Spec{
	Description: "Returns the first argument that is neither null nor an empty string.",
	VarParam:    &function.Parameter{Name: "vals", Type: cty.DynamicPseudoType, AllowNull: true},
	Type: func(args []cty.Value) (cty.Type, error) {
		types := make([]cty.Type, len(args))
		for i, a := range args {
			types[i] = a.Type()
		}
		ty, _ := convert.UnifyUnsafe(types)
		if ty == cty.NilType {
			return cty.NilType, errors.New("all arguments must have the same type")
		}
		return ty, nil
	},
	Impl: func(args []cty.Value, retType cty.Type) (cty.Value, error) {
		for _, a := range args {
			v, err := convert.Convert(a, retType)
			if err != nil {
				return cty.NilVal, err
			}
			if v.IsNull() || !v.IsKnown() || (v.Type() == cty.String && v.AsString() == "") {
				continue
			}
			return v, nil
		}
		return cty.NilVal, errors.New("no argument is non-null and non-empty")
	},
})

// makeFileFunc returns a function reading a file relative to dir.
func makeFileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the content of a file; a relative path is resolved against the configuration folder.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			name := args[0].AsString()
			data, err := os.ReadFile(resolvePath(dir, name))
			if err != nil {
				// Name the file as written, not by its machine specific path.
				var pe *fs.PathError
				if errors.As(err, &pe) {
					err = pe.Err
				}
				return cty.NilVal, function.NewArgErrorf(0, "cannot read %q: %s", name, err)
			}
			return cty.StringVal(string(data)), nil
		},
	})
}

// resolvePath makes p absolute against dir.
func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// evalValue evaluates expr and converts the result to ty. ok is false when
// a diagnostic was reported or the value is null.
func evalValue(expr hcl.Expression, ctx *hcl.EvalContext, ty cty.Type, what string) (cty.Value, bool, hcl.Diagnostics) {
	val, diags := expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	if val.IsNull() {
		return val, false, diags
	}
	if !val.IsWhollyKnown() {
		return cty.NilVal, false, append(diags, errorAt(expr.Range(), "Invalid "+what,
			fmt.Sprintf("The value of %s must be known.", what)))
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		return cty.NilVal, false, append(diags, errorAt(expr.Range(), "Invalid "+what,
			fmt.Sprintf("Unsuitable value for %s: %s.", what, err)))
	}
	return conv, true, diags
}

// evalString evaluates expr as a string. ok is false on error or null.
func evalString(expr hcl.Expression, ctx *hcl.EvalContext, what string) (string, bool, hcl.Diagnostics) {
	val, ok, diags := evalValue(expr, ctx, cty.String, what)
	if !ok {
		return "", false, diags
	}
	return val.AsString(), true, diags
}

// evalStringList evaluates expr as a list of strings; null elements are errors.
func evalStringList(expr hcl.Expression, ctx *hcl.EvalContext, what string) ([]string, bool, hcl.Diagnostics) {
	val, ok, diags := evalValue(expr, ctx, cty.List(cty.String), what)
	if !ok {
		return nil, false, diags
	}
	out := make([]string, 0, val.LengthInt())
	for it := val.ElementIterator(); it.Next(); {
		_, v := it.Element()
		if v.IsNull() {
			return nil, false, append(diags, errorAt(expr.Range(), "Invalid "+what,
				fmt.Sprintf("The elements of %s must not be null.", what)))
		}
		out = append(out, v.AsString())
	}
	return out, true, diags
}

// evalCommand evaluates expr as a command: a list of strings. A single
// string, the shell's habit, is refused with the list to write instead:
// the string through sh -c, or, when it is one word, that word alone.
func evalCommand(expr hcl.Expression, ctx *hcl.EvalContext) ([]string, bool, hcl.Diagnostics) {
	if val, diags := expr.Value(ctx); !diags.HasErrors() && val.IsWhollyKnown() && !val.IsNull() && val.Type() == cty.String {
		line := val.AsString()
		fix := fmt.Sprintf("For this line through a shell, write command = [\"sh\", \"-c\", %s].", hclString(line))
		if line != "" && !strings.ContainsAny(line, " \t\n\"'`$&|;<>()*?[]{}~#\\") {
			fix = fmt.Sprintf("Write command = [%s].", hclString(line))
		}
		return nil, false, append(diags, errorAt(expr.Range(), "Invalid command",
			"The command is a list of strings, the program and its arguments, run without a shell. "+fix))
	}
	return evalStringList(expr, ctx, "command")
}

// evalStringMap evaluates expr as a map of strings; null elements are errors.
func evalStringMap(expr hcl.Expression, ctx *hcl.EvalContext, what string) (map[string]string, bool, hcl.Diagnostics) {
	val, ok, diags := evalValue(expr, ctx, cty.Map(cty.String), what)
	if !ok {
		return nil, false, diags
	}
	out := make(map[string]string, val.LengthInt())
	for it := val.ElementIterator(); it.Next(); {
		k, v := it.Element()
		if v.IsNull() {
			return nil, false, append(diags, errorAt(expr.Range(), "Invalid "+what,
				fmt.Sprintf("The value of %q in %s must not be null.", k.AsString(), what)))
		}
		out[k.AsString()] = v.AsString()
	}
	return out, true, diags
}

// evalInt evaluates expr as a whole number.
func evalInt(expr hcl.Expression, ctx *hcl.EvalContext, what string) (int, bool, hcl.Diagnostics) {
	val, ok, diags := evalValue(expr, ctx, cty.Number, what)
	if !ok {
		return 0, false, diags
	}
	n, ok := toInt(val)
	if !ok {
		return 0, false, append(diags, errorAt(expr.Range(), "Invalid "+what,
			fmt.Sprintf("The value of %s must be a whole number.", what)))
	}
	return n, true, diags
}

// toInt converts a known number to an int, reporting whether it is whole
// and fits.
func toInt(v cty.Value) (int, bool) {
	bf := v.AsBigFloat()
	if !bf.IsInt() {
		return 0, false
	}
	i, acc := bf.Int64()
	if acc != big.Exact || int64(int(i)) != i {
		return 0, false
	}
	return int(i), true
}

// evalDuration evaluates expr as a duration string parsed by
// time.ParseDuration. ok is false on error or null.
func evalDuration(expr hcl.Expression, ctx *hcl.EvalContext, what string) (time.Duration, bool, hcl.Diagnostics) {
	s, ok, diags := evalString(expr, ctx, what)
	if !ok {
		return 0, false, diags
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false, append(diags, errorAt(expr.Range(), "Invalid duration",
			fmt.Sprintf("The value of %s must be a duration such as \"10s\", \"1m30s\" or \"500ms\"; %q is not.", what, s)))
	}
	return d, true, diags
}

// errorAt returns an error diagnostic whose subject is rng.
func errorAt(rng hcl.Range, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}
}
