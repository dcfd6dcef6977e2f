package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// A prox.hcl string is an HCL template: "${HOME}" is HCL's interpolation
// and "%{...}" a template directive, so the shell's ${HOME}, ${#list[@]}
// or curl's -w '%{http_code}' written as they are in a command fail with
// HCL's own messages ("Variables not allowed", "Invalid template control
// keyword"), which do not say that "$${" and "%%{" write them literally.
// The diagnostics of such errors in a process's command or env get that
// advice, at the same place.

// shellAttributes are the attributes of a process (and of its health
// check's exec block) whose strings commonly carry shell syntax.
var shellAttributes = map[string]bool{"command": true, "env": true}

// interpolationHint is the advice added to an error about the "${" of text
// (the interpolation as written, "${HOME}"). When it names a variable, the
// advice also gives prox's own environment's value (env("HOME")), which is
// what an env entry such as PATH = "${PATH}:/opt/bin" means.
func interpolationHint(text string) string {
	hint := fmt.Sprintf(`In prox.hcl, ${...} is HCL's own interpolation. To pass "%s" to the shell, write "$%s"; for %%{, write "%%%%{".`, text, text)
	if name := strings.TrimSuffix(strings.TrimPrefix(text, "${"), "}"); envName.MatchString(name) {
		hint += fmt.Sprintf(` For prox's own environment variable %s, write "${env(%q)}".`, name, name)
	}
	return hint
}

// envName is an environment variable's name as a shell writes it.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// directiveHint is the advice added to an error about the "%{" of text (the
// directive as written, "%{http_code}").
func directiveHint(text string) string {
	return fmt.Sprintf(`In prox.hcl, %%{...} is an HCL template directive. To pass "%s" to the program as written, write "%%%s"; for ${, write "$${".`, text, text)
}

// addHint appends hint to the detail of d.
func addHint(d *hcl.Diagnostic, hint string) {
	if d.Detail == "" {
		d.Detail = hint
		return
	}
	d.Detail += " " + hint
}

// hintInterpolatedVariables adds interpolationHint to the "Variables not
// allowed" and "Unknown variable" errors of diags that are about a variable inside a template of
// expr ("echo ${HOME}"), as opposed to a bare reference (command = HOME).
// src is the file's source.
func hintInterpolatedVariables(diags hcl.Diagnostics, expr hcl.Expression, src []byte) {
	node, ok := expr.(hclsyntax.Node)
	if !ok {
		return
	}
	type span struct{ start, end int }
	inTemplate := map[span]bool{}
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n.(type) {
		case *hclsyntax.TemplateExpr, *hclsyntax.TemplateWrapExpr:
			_ = hclsyntax.VisitAll(n, func(inner hclsyntax.Node) hcl.Diagnostics {
				if ref, ok := inner.(*hclsyntax.ScopeTraversalExpr); ok {
					r := ref.Range()
					inTemplate[span{r.Start.Byte, r.End.Byte}] = true
				}
				return nil
			})
		}
		return nil
	})
	for _, d := range diags {
		if d.Severity != hcl.DiagError || (d.Summary != "Variables not allowed" && d.Summary != "Unknown variable") || d.Subject == nil {
			continue
		}
		s := span{d.Subject.Start.Byte, d.Subject.End.Byte}
		if !inTemplate[s] || s.end > len(src) {
			continue
		}
		addHint(d, interpolationHint("${"+string(src[s.start:s.end])+"}"))
	}
}

// hintTemplateSyntax adds the escape advice to the syntax errors of diags
// that lie in a "${" or "%{" sequence of a command or env attribute of a
// process block of body (a partial body, as parsed despite the errors). src
// is the file's source.
func hintTemplateSyntax(diags hcl.Diagnostics, body hcl.Body, src []byte) {
	root, ok := body.(*hclsyntax.Body)
	if !ok {
		return
	}
	var exprs []hcl.Range
	var collect func(b *hclsyntax.Body)
	collect = func(b *hclsyntax.Body) {
		for name, attr := range b.Attributes {
			if shellAttributes[name] {
				exprs = append(exprs, attr.Expr.Range())
			}
		}
		for _, block := range b.Blocks {
			collect(block.Body)
		}
	}
	for _, block := range root.Blocks {
		if block.Type == "process" {
			collect(block.Body)
		}
	}
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Subject == nil {
			continue
		}
		for _, rng := range exprs {
			if d.Subject.Start.Byte < rng.Start.Byte || d.Subject.Start.Byte >= rng.End.Byte || rng.End.Byte > len(src) {
				continue
			}
			if strings.Contains(d.Detail, "$${") {
				break // HCL's own detail already says how to escape
			}
			if hint := templateHint(src[rng.Start.Byte:rng.End.Byte], d.Subject.Start.Byte-rng.Start.Byte); hint != "" {
				addHint(d, hint)
			}
			break
		}
	}
}

// templateHint returns the advice for a syntax error at offset at of expr
// (an expression's source) when the error lies in an unescaped "${...}" or
// "%{...}" of it (or just after its "}", where HCL reports an unfinished
// directive); "" otherwise.
func templateHint(expr []byte, at int) string {
	for i := 0; i+1 < len(expr) && i <= at; i++ {
		if expr[i+1] != '{' || (expr[i] != '$' && expr[i] != '%') {
			continue
		}
		if i > 0 && expr[i-1] == expr[i] {
			continue // "$${" or "%%{": already escaped
		}
		text := expr[i:]
		end := bytes.IndexAny(text, "}\n")
		if end < 0 || text[end] != '}' {
			text = text[:2] // unfinished
		} else {
			text = text[:end+1]
			// An error after the sequence is not about it, unless the
			// sequence holds a "#" or "//": inside "${", HCL takes it for a
			// comment that swallows the "}" and what follows (the shell's
			// ${#list[@]}).
			comment := bytes.Contains(text, []byte("#")) || bytes.Contains(text, []byte("//"))
			if at > i+end+1 && !comment {
				continue
			}
		}
		if expr[i] == '%' {
			return directiveHint(string(text))
		}
		return interpolationHint(string(text))
	}
	return ""
}

// HintEnvVariables adds to the "Unknown variable" and "Variables not
// allowed" errors of diags about a "${NAME}" that has no advice yet (a
// dir, a sink's url: no shell reads them) how to read prox's own
// environment variable NAME instead: "${env("NAME")}". files are the
// parsed files the diagnostics point into (Config.Files); the plugin
// blocks' errors come after the config's, so the agent calls it too.
func HintEnvVariables(diags hcl.Diagnostics, files map[string]*hcl.File) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError || (d.Summary != "Variables not allowed" && d.Summary != "Unknown variable") || d.Subject == nil {
			continue
		}
		if strings.Contains(d.Detail, "env(") {
			continue // already advised (a command or an env)
		}
		f := files[d.Subject.Filename]
		if f == nil {
			continue
		}
		src, start, end := f.Bytes, d.Subject.Start.Byte, d.Subject.End.Byte
		if start < 2 || end >= len(src) || start >= end || string(src[start-2:start]) != "${" || src[end] != '}' {
			continue
		}
		if name := string(src[start:end]); envName.MatchString(name) {
			addHint(d, fmt.Sprintf(`To use prox's own environment variable %s, write "${env(%q)}".`, name, name))
		}
	}
}
