package container

import "strings"

// localVars are the variables that describe the local machine, dropped from
// a process's environment (see the package documentation).
var localVars = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"PWD": true, "OLDPWD": true, "TERM": true, "TMPDIR": true,
	"HOSTNAME": true, "_": true,
}

// localPrefixes are the prefixes of variable names dropped likewise.
var localPrefixes = []string{"SSH_", "XDG_", "DOCKER_"}

// containerEnv returns env without the variables that describe the local
// machine, and without entries that are not KEY=value. The order is kept.
func containerEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || isLocalVar(k) {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// isLocalVar reports whether the variable named k describes the local
// machine.
func isLocalVar(k string) bool {
	if localVars[k] {
		return true
	}
	for _, p := range localPrefixes {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}
