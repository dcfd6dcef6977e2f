package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// DotenvName is the dotenv file read beside the configuration, as foreman,
// overmind and docker compose read it.
const DotenvName = ".env"

// LoadOptions are the settings of LoadWith and ParseWith beyond the file.
type LoadOptions struct {
	// EnvFile is the dotenv file to read instead of the .env beside the
	// configuration (prox -env-file); relative to the working directory.
	// It must exist, and it is read even when the file says dotenv =
	// false. Default "": the .env beside the configuration, when it
	// exists and dotenv is not false.
	EnvFile string
	// Formation is foreman's -m for a Procfile run (LoadProcfileWith):
	// how many instances of each process run. Default: one of each.
	Formation Formation
}

// dotenvSchema picks the root attribute that says whether .env is read;
// it is read before anything else is evaluated, since env() sees .env.
var dotenvSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "dotenv"}}}

// loadDotenv reads the dotenv file of cfg into cfg.Dotenv and
// cfg.DotenvFile, as opts and the file's dotenv attribute say. filename
// is the configuration's path as given: a diagnostic names the .env
// beside it the same way (.env for prox.hcl), and shows its line.
func loadDotenv(body hcl.Body, cfg *Config, filename string, opts LoadOptions) hcl.Diagnostics {
	var diags hcl.Diagnostics
	enabled := true
	content, _, _ := body.PartialContent(dotenvSchema)
	if attr := content.Attributes["dotenv"]; attr != nil {
		v, d := attr.Expr.Value(nil)
		switch {
		case d.HasErrors():
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid dotenv",
				"The value of dotenv must be true or false, written as is: it is read before env() can be called."))
		case v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool:
			diags = append(diags, errorAt(attr.Expr.Range(), "Invalid dotenv",
				"The value of dotenv must be true or false."))
		default:
			enabled = v.True()
		}
	}
	// shown is the file's name in diagnostics, path its absolute form.
	shown, explicit := opts.EnvFile, opts.EnvFile != ""
	if !explicit {
		if !enabled {
			return diags
		}
		shown = filepath.Join(filepath.Dir(filename), DotenvName)
	}
	path := shown
	if abs, err := filepath.Abs(shown); err == nil {
		path = abs
	}
	if !explicit {
		path = filepath.Join(cfg.Dir, DotenvName)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return diags // no .env: nothing to read
		}
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read the env file",
			Detail: fmt.Sprintf("%s. -env-file names the dotenv file to read; without it, prox reads %s beside the configuration when there is one.", err, DotenvName)})
	}
	vars, err := ParseDotenv(bytes.NewReader(src))
	if err != nil {
		diag := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid env file",
			Detail: fmt.Sprintf("%s: %s. Write one KEY=VALUE per line.", shown, err)}
		if !explicit {
			diag.Detail += fmt.Sprintf(" dotenv = false in the configuration stops prox reading %s.", DotenvName)
		}
		var lineErr *DotenvError
		if errors.As(err, &lineErr) {
			diag.Subject = lineRange(shown, src, lineErr.Line)
			// The diagnostics writer shows the line from here.
			cfg.Files[shown] = &hcl.File{Bytes: src}
		}
		return append(diags, diag)
	}
	cfg.Dotenv, cfg.DotenvFile = vars, path
	return diags
}

// lineRange is the range of line n (from 1) of src, without its line end.
func lineRange(filename string, src []byte, n int) *hcl.Range {
	start := 0
	for line := 1; line < n; line++ {
		i := bytes.IndexByte(src[start:], '\n')
		if i < 0 {
			break
		}
		start += i + 1
	}
	end := start + len(bytes.TrimRight(bytes.SplitN(src[start:], []byte("\n"), 2)[0], "\r"))
	return &hcl.Range{
		Filename: filename,
		Start:    hcl.Pos{Line: n, Column: 1, Byte: start},
		End:      hcl.Pos{Line: n, Column: 1 + end - start, Byte: end},
	}
}
