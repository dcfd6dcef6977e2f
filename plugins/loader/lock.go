package loader

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// LockFileName is the lock file's name, beside the configuration file.
const LockFileName = "prox.lock.json"

// lockVersion is the format version of lock files.
const lockVersion = 1

// Lock records the SHA-256 of every external plugin binary a configuration
// uses. With a lock, prox refuses a binary whose hash differs, naming the
// file, the expected and the actual hash.
type Lock struct {
	// Path is where the lock was read from or is written to.
	Path string `json:"-"`
	// Version is the lock file format, lockVersion.
	Version int `json:"version"`
	// Plugins are the locked binaries, sorted by path.
	Plugins []LockedPlugin `json:"plugins"`
}

// LockedPlugin is one locked binary.
type LockedPlugin struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// ReadLock reads the lock file at path; a missing file gives (nil, nil).
func ReadLock(path string) (*Lock, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	l := &Lock{Path: path}
	if err := json.Unmarshal(b, l); err != nil {
		return nil, fmt.Errorf("lock file %s: %w", path, err)
	}
	if l.Version != lockVersion {
		return nil, fmt.Errorf("lock file %s: format version %d, prox reads %d", path, l.Version, lockVersion)
	}
	return l, nil
}

// Lookup returns the locked SHA-256 of the binary at path.
func (l *Lock) Lookup(path string) (string, bool) {
	abs, _ := filepath.Abs(path)
	for _, p := range l.Plugins {
		if p.Path == abs {
			return p.SHA256, true
		}
	}
	return "", false
}

// Write writes the lock to l.Path.
func (l *Lock) Write() error {
	l.Version = lockVersion
	sort.Slice(l.Plugins, func(i, j int) bool { return l.Plugins[i].Path < l.Plugins[j].Path })
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(l.Path, append(b, '\n'), 0o644)
}

// LockSources computes the lock of the external plugins among srcs.
func LockSources(path string, srcs []*Source) (*Lock, error) {
	l := &Lock{Path: path, Version: lockVersion}
	seen := map[string]bool{}
	for _, s := range srcs {
		if s.Builtin {
			continue
		}
		abs, err := filepath.Abs(s.Path)
		if err != nil {
			return nil, err
		}
		if seen[abs] {
			continue
		}
		seen[abs] = true
		sum, err := fileSHA256(abs)
		if err != nil {
			return nil, fmt.Errorf("plugin %q: %w", s.Plugin, err)
		}
		l.Plugins = append(l.Plugins, LockedPlugin{Name: s.Plugin, Path: abs, SHA256: sum})
	}
	return l, nil
}
