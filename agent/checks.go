package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/prox-dev/prox/plugins/loader"
	"github.com/prox-dev/prox/supervisor/config"
)

// pluginPaths reports every plugin block whose binary is missing: an
// error, whether or not a process uses the plugin, at its path. missing
// holds their names: the runners and sinks that cannot be launched
// because of them need no error of their own.
func pluginPaths(cfg *config.Config) (diags hcl.Diagnostics, missing map[string]bool) {
	missing = map[string]bool{}
	for _, b := range cfg.Plugins {
		if b.Path == "" {
			continue
		}
		st, err := os.Stat(b.Path)
		what := ""
		switch {
		case errors.Is(err, fs.ErrNotExist):
			what = "does not exist"
		case err != nil:
			what = "cannot be read: " + err.Error()
		case st.IsDir():
			what = "is a folder"
		default:
			continue
		}
		at := b.PathRange
		if at.Filename == "" {
			at = b.DeclRange
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Plugin binary not found",
			Detail:  fmt.Sprintf("The binary of plugin %q, %s, %s. A relative path is relative to the configuration's folder: build the plugin there, or correct the path.", b.Name, b.Path, what),
			Subject: at.Ptr()})
		missing[b.Name] = true
	}
	return diags, missing
}

// ofMissingPlugin reports whether err is an error of a plugin whose
// binary pluginPaths found missing.
func ofMissingPlugin(err error, missing map[string]bool) bool {
	var pe *loader.PluginError
	return errors.As(err, &pe) && missing[pe.Plugin]
}

// localWarnings checks what a local process needs on this machine: its
// working folder, and its program (on its PATH, or at its path). Both are
// warnings, not errors: a process that runs first may create them.
func localWarnings(p *config.Process, env []string, dir string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	later := " A process that runs before it may create it; otherwise its start will fail."
	if p.DirRange.Filename != "" {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Working folder not found",
				Detail:  fmt.Sprintf("The working folder of process %q, %s, does not exist or is not a folder."+later, p.Name, dir),
				Subject: p.DirRange.Ptr()})
			return diags // the program's path may be relative to it
		}
	}
	if len(p.Command) == 0 || p.CommandRange.Filename == "" {
		return diags
	}
	prog := p.Command[0]
	if strings.Contains(prog, "/") {
		path := prog
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		if st, err := os.Stat(path); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Program not found",
				Detail:  fmt.Sprintf("The program of process %q, %s, is not an executable file (a relative path is relative to the process's working folder, %s)."+later, p.Name, path, dir),
				Subject: p.CommandRange.Ptr()})
		}
		return diags
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	if !onPath(prog, pathVar, dir) {
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "Program not found",
			Detail:  fmt.Sprintf("The program of process %q, %q, is not on its PATH (%s)."+later, p.Name, prog, pathVar),
			Subject: p.CommandRange.Ptr()})
	}
	return diags
}

// onPath reports whether prog is an executable file in a folder of
// pathVar (relative folders are relative to dir).
func onPath(prog, pathVar, dir string) bool {
	for _, d := range filepath.SplitList(pathVar) {
		if d == "" {
			d = "."
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(dir, d)
		}
		if st, err := os.Stat(filepath.Join(d, prog)); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}

// envFileProblem says why p's env_file could not be read (err, from
// config.Environ), naming the file as relative to the configuration's
// folder, and what to do about it.
func envFileProblem(cfg *config.Config, p *config.Process, err error) string {
	name := p.EnvFile
	if rel, relErr := filepath.Rel(cfg.Dir, p.EnvFile); relErr == nil && !strings.HasPrefix(rel, "..") {
		name = rel
	}
	var pe *fs.PathError
	var de *config.DotenvError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("The env_file of process %q, %s, does not exist. A relative path is relative to the configuration's folder: create the file, or correct the path.", p.Name, name)
	case errors.As(err, &de):
		return fmt.Sprintf("The env_file of process %q, %s, has a malformed line %d: %s. Write one KEY=value per line (# starts a comment).", p.Name, name, de.Line, de.Err)
	case errors.As(err, &pe):
		return fmt.Sprintf("The env_file of process %q, %s, cannot be read: %s.", p.Name, name, pe.Err)
	default:
		return fmt.Sprintf("The env_file of process %q, %s, cannot be read: %s.", p.Name, name, err)
	}
}
