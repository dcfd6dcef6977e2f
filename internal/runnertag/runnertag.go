// Package runnertag marks what a local runner starts with an environment
// variable, PROX_RUNNER_TAG, whose value names the runner's plugin process
// (a tag prox draws at random for each launch). Every descendant inherits
// it, including one that left its process group (setsid) or lost its
// parent (a double fork). So when the plugin is gone, prox can still find
// what it started, by reading /proc/PID/environ, and kill it: the last
// line of defence for a runner without cgroups (the exec runner's
// "subreaper" and "process-group" containments), whose escaped descendants
// are otherwise reparented to init when its plugin dies.
//
// A value may hold several tags, separated by colons: a prox supervised by
// another prox keeps its supervisor's tag, and its processes carry both.
//
// prox (plugins/loader) puts the tag in a runner plugin's environment; the
// exec runner (plugins/runner/exec) adds it to every process's.
package runnertag

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
)

// Env is the environment variable that carries the tags.
const Env = "PROX_RUNNER_TAG"

// separator separates the tags of one value.
const separator = ":"

// New returns a new random tag: 16 hexadecimal digits.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

// Parse returns the tags of a value of Env.
func Parse(value string) []string {
	var tags []string
	for t := range strings.SplitSeq(value, separator) {
		if t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// With returns a copy of env in which Env holds the tags it held (in each
// of its entries) and tags: one entry, at the end. With no tags, it returns
// env as it is.
func With(env []string, tags ...string) []string {
	if len(tags) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+1)
	var all []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, Env+"="); ok {
			all = append(all, Parse(v)...)
			continue
		}
		out = append(out, kv)
	}
	all = append(all, tags...)
	return append(out, Env+"="+strings.Join(Parse(strings.Join(all, separator)), separator))
}

// Carries reports whether environ, the NUL-separated environment of a
// process (/proc/PID/environ), has tag in an entry of Env.
func Carries(environ []byte, tag string) bool {
	if tag == "" || !strings.Contains(string(environ), tag) {
		return false
	}
	for kv := range strings.SplitSeq(string(environ), "\x00") {
		if v, ok := strings.CutPrefix(kv, Env+"="); ok && slices.Contains(Parse(v), tag) {
			return true
		}
	}
	return false
}
