package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// HCL's own messages about the shape of a block say what is wrong but not
// what to write: a one-line block with two attributes (the README's tour
// once had stop { signal = "SIGTERM"  timeout = "10s" }), a runner or sink
// block with its kind but no name. hintBlockShapes adds that.

// missingNameLine finds the kind of a runner or sink block on the line of
// its "Missing name" error: runner "ssh" {.
var missingNameLine = regexp.MustCompile(`^\s*(runner|sink)\s+"([^"]*)"`)

// hintBlockShapes adds what to write to the block shape errors of diags;
// src is the file's source.
func hintBlockShapes(diags hcl.Diagnostics, src []byte) {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		switch {
		case d.Summary == "Invalid single-argument block definition":
			addHint(d, "A block on one line holds one attribute at most: with more, write each attribute on a line of its own, and the closing } on a line after them.")
		case d.Summary == "Missing name for runner" || d.Summary == "Missing name for sink":
			typ, kind := strings.TrimPrefix(d.Summary, "Missing name for "), "KIND"
			if m := missingNameLine.FindSubmatch(subjectLine(d, src)); m != nil && string(m[1]) == typ && len(m[2]) > 0 {
				kind = string(m[2])
			}
			use := fmt.Sprintf("runner = %q in a process", kind+".NAME")
			if typ == "sink" {
				use = fmt.Sprintf("sinks = [%q] in a process", kind+".NAME")
			}
			addHint(d, fmt.Sprintf("Name it, %s %q %q { ... }, and use it as %s.", typ, kind, "NAME", use))
		}
	}
}

// subjectLine returns the source line where d's subject starts, or nil.
func subjectLine(d *hcl.Diagnostic, src []byte) []byte {
	if d.Subject == nil || d.Subject.Start.Byte > len(src) {
		return nil
	}
	start := d.Subject.Start.Byte
	for start > 0 && src[start-1] != '\n' {
		start--
	}
	end := start
	for end < len(src) && src[end] != '\n' {
		end++
	}
	return src[start:end]
}
