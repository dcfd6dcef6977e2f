package config

import (
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
// cfg.DotenvFile, as opts and the file's dotenv attribute say.
func loadDotenv(body hcl.Body, cfg *Config, opts LoadOptions) hcl.Diagnostics {
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
	path, explicit := opts.EnvFile, opts.EnvFile != ""
	if explicit {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
	} else {
		if !enabled {
			return diags
		}
		path = filepath.Join(cfg.Dir, DotenvName)
	}
	f, err := os.Open(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return diags // no .env: nothing to read
		}
		return append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Cannot read the env file",
			Detail: fmt.Sprintf("%s. -env-file names the dotenv file to read; without it, prox reads %s beside the configuration when there is one.", err, DotenvName)})
	}
	defer f.Close()
	vars, err := ParseDotenv(f)
	if err != nil {
		diag := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid env file",
			Detail: fmt.Sprintf("%s: %s. Write one KEY=VALUE per line; dotenv = false in the configuration stops prox reading %s.", path, err, DotenvName)}
		var lineErr *DotenvError
		if errors.As(err, &lineErr) {
			pos := hcl.Pos{Line: lineErr.Line, Column: 1}
			diag.Subject = &hcl.Range{Filename: path, Start: pos, End: pos}
		}
		return append(diags, diag)
	}
	cfg.Dotenv, cfg.DotenvFile = vars, path
	return diags
}
