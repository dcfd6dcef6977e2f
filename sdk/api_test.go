package sdk

import (
	"bytes"
	"flag"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite api.golden from the packages' exported API")

// apiGolden lists the SDK's exported API: a change to the public surface
// shows in its diff, and is a decision.
const apiGolden = "api.golden"

// apiPackages are the public packages of the SDK, by folder from sdk/.
var apiPackages = []string{".", "sdktest"}

// TestAPIGolden compares the SDK's exported API with api.golden. After a
// deliberate change: go test ./sdk -run TestAPIGolden -update
func TestAPIGolden(t *testing.T) {
	var got bytes.Buffer
	for i, dir := range apiPackages {
		api, err := exportedAPI(dir)
		require.NoError(t, err)
		if i > 0 {
			got.WriteString("\n")
		}
		got.WriteString(api)
	}
	if *update {
		require.NoError(t, os.WriteFile(apiGolden, got.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(apiGolden)
	require.NoError(t, err, "run: go test ./sdk -run TestAPIGolden -update")
	assert.Equal(t, string(want), got.String(),
		"the SDK's exported API changed; if that is meant, run: go test ./sdk -run TestAPIGolden -update, and commit api.golden")
}

func TestExportedAPIListsOnlyTheExported(t *testing.T) {
	dir := t.TempDir()
	src := `package p

// T is documented.
type T struct {
	A int // kept
	b int
	*U
	u
}

type U interface {
	M(x int) error
	m()
}

type u struct{}

const (
	C1 = iota
	c2
	C3
)

var v, V = 1, 2

func F(a, b string) (int, error) { return 0, nil }
func f() {}
func (t *T) M() {}
func (t T) m()  {}
func (x u) M()  {}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte(src), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p_test.go"), []byte("package p\n\nfunc TestX() {}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p_windows.go"), []byte("package p\n\nfunc W() {}\n"), 0o644))
	api, err := exportedAPI(dir)
	require.NoError(t, err)
	assert.Equal(t, `package p

const (
	C1 = iota
	C3
)

func F(a, b string) (int, error)

type T struct {
	A int
	*U
}

func (*T) M()

type U interface {
	M(x int) error
}

var V = 2
`, api)
}

// exportedAPI returns the exported declarations of the package in dir, as
// built for linux/amd64 (without tests): signatures without bodies,
// comments or receiver names, structs and interfaces without their
// unexported members, sorted by name.
func exportedAPI(dir string) (string, error) {
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH = "linux", "amd64"
	bp, err := ctx.ImportDir(dir, 0)
	if err != nil {
		return "", err
	}
	fset := token.NewFileSet()
	type decl struct{ key, text string }
	var decls []decl
	add := func(key string, node any) error {
		var b strings.Builder
		if err := (&printer.Config{Mode: printer.UseSpaces | printer.TabIndent, Tabwidth: 8}).Fprint(&b, fset, node); err != nil {
			return err
		}
		// No blank lines: they only stood where a comment or an
		// unexported member was.
		var lines []string
		for l := range strings.Lines(b.String()) {
			if strings.TrimSpace(l) != "" {
				lines = append(lines, strings.TrimSuffix(l, "\n"))
			}
		}
		decls = append(decls, decl{key, strings.Join(lines, "\n")})
		return nil
	}
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return "", err
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				key, ok := funcKey(d)
				if !ok {
					continue
				}
				d.Doc, d.Body = nil, nil
				if d.Recv != nil {
					for _, field := range d.Recv.List {
						field.Names = nil
					}
				}
				if err := add(key, d); err != nil {
					return "", err
				}
			case *ast.GenDecl:
				if d.Tok == token.IMPORT {
					continue
				}
				// A type per declaration; constants and variables in
				// their groups (an iota keeps its meaning).
				var group *ast.GenDecl
				groupKey := ""
				for _, s := range d.Specs {
					key, spec, ok := exportedSpec(s)
					if !ok {
						continue
					}
					if d.Tok == token.TYPE || !d.Lparen.IsValid() {
						if err := add(key, &ast.GenDecl{Tok: d.Tok, Specs: []ast.Spec{spec}}); err != nil {
							return "", err
						}
						continue
					}
					if group == nil {
						group, groupKey = &ast.GenDecl{Tok: d.Tok, Lparen: 1, Rparen: 1}, key
					}
					group.Specs = append(group.Specs, spec)
				}
				if group != nil {
					if err := add(groupKey, group); err != nil {
						return "", err
					}
				}
			}
		}
	}
	sort.SliceStable(decls, func(i, j int) bool { return decls[i].key < decls[j].key })
	var out strings.Builder
	out.WriteString("package " + bp.Name + "\n\n")
	for _, d := range decls {
		out.WriteString(d.text + "\n\n")
	}
	// Once more through gofmt: aligned as if written so.
	formatted, err := format.Source([]byte(out.String()))
	if err != nil {
		return "", err
	}
	return string(formatted), nil
}

// funcKey returns the sort key of an exported function or of an exported
// method of an exported type ("T.M"), and false for anything else.
func funcKey(d *ast.FuncDecl) (string, bool) {
	if !d.Name.IsExported() {
		return "", false
	}
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name, true
	}
	typ := d.Recv.List[0].Type
	for {
		switch t := typ.(type) {
		case *ast.StarExpr:
			typ = t.X
			continue
		case *ast.IndexExpr:
			typ = t.X
			continue
		case *ast.IndexListExpr:
			typ = t.X
			continue
		case *ast.Ident:
			return t.Name + "." + d.Name.Name, t.IsExported()
		}
		return "", false
	}
}

// exportedSpec returns spec reduced to its exported names and members, its
// sort key, and false when nothing of it is exported.
func exportedSpec(s ast.Spec) (string, ast.Spec, bool) {
	switch s := s.(type) {
	case *ast.TypeSpec:
		if !s.Name.IsExported() {
			return "", nil, false
		}
		s.Doc, s.Comment = nil, nil
		switch t := s.Type.(type) {
		case *ast.StructType:
			t.Fields.List = exportedFields(t.Fields.List)
		case *ast.InterfaceType:
			t.Methods.List = exportedFields(t.Methods.List)
		}
		return s.Name.Name, s, true
	case *ast.ValueSpec:
		var names []*ast.Ident
		var values []ast.Expr
		for i, n := range s.Names {
			if n.IsExported() {
				names = append(names, n)
				if i < len(s.Values) {
					values = append(values, s.Values[i])
				}
			}
		}
		if len(names) == 0 {
			return "", nil, false
		}
		if len(values) != len(names) {
			values = nil // one call's several results, or implicit (iota)
			if len(s.Values) > 0 {
				values = s.Values
			}
		}
		s.Names, s.Values, s.Doc, s.Comment = names, values, nil, nil
		return names[0].Name, s, true
	}
	return "", nil, false
}

// exportedFields keeps the exported fields (or interface methods) and the
// embedded exported types of list, without their comments.
func exportedFields(list []*ast.Field) []*ast.Field {
	var kept []*ast.Field
	for _, f := range list {
		f.Doc, f.Comment = nil, nil
		if len(f.Names) == 0 {
			if embeddedExported(f.Type) {
				kept = append(kept, f)
			}
			continue
		}
		var names []*ast.Ident
		for _, n := range f.Names {
			if n.IsExported() {
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			f.Names = names
			kept = append(kept, f)
		}
	}
	return kept
}

// embeddedExported reports whether an embedded type is exported (a
// qualified type always is: it is another package's export).
func embeddedExported(e ast.Expr) bool {
	switch t := e.(type) {
	case *ast.StarExpr:
		return embeddedExported(t.X)
	case *ast.Ident:
		return t.IsExported()
	case *ast.SelectorExpr:
		return true
	case *ast.IndexExpr:
		return embeddedExported(t.X)
	case *ast.IndexListExpr:
		return embeddedExported(t.X)
	}
	return true // a type union or the like in an interface
}
