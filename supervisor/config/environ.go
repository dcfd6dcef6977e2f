package config

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Environ returns the environment of process p: base (usually
// os.Environ()) overridden by the configuration's dotenv file (c.Dotenv,
// foreman's habit), overridden by the variables of p's env_file,
// overridden by p's env, and, for an instance of a replicated process
// (Replicated), PROX_REPLICA (ReplicaEnv), its index, above all. The result is a sorted list of "KEY=VALUE"
// entries without duplicate keys; base entries without '=' or with an
// empty key are dropped. An unreadable or malformed env_file is an error.
// The receiver may be nil: no dotenv file.
func (c *Config) Environ(p *Process, base []string) ([]string, error) {
	// env maps each key to its whole "KEY=VALUE" entry: an entry inherited
	// unchanged from base is base's own string, shared by every process
	// rather than rebuilt for each.
	env := make(map[string]string, len(base)+len(p.Env))
	for _, kv := range base {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			continue
		}
		env[k] = kv
	}
	if c != nil {
		for k, v := range c.Dotenv {
			env[k] = k + "=" + v
		}
	}
	if p.EnvFile != "" {
		f, err := os.Open(p.EnvFile)
		if err != nil {
			return nil, fmt.Errorf("process %s: env_file: %w", p.Name, err)
		}
		vars, err := ParseDotenv(f)
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("process %s: env_file %s: %w", p.Name, p.EnvFile, err)
		}
		for k, v := range vars {
			env[k] = k + "=" + v
		}
	}
	for k, v := range p.Env {
		env[k] = k + "=" + v
	}
	if p.Replicated() {
		env[ReplicaEnv] = ReplicaEnv + "=" + strconv.Itoa(p.Replica)
	}
	out := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		out = append(out, env[k])
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
