package loader

import (
	"fmt"
	"strings"

	"github.com/prox-dev/prox/sdk"
)

// Resolve finds the plugin that serves kind.name: an external plugin whose
// block says `override = true` first, then a built-in, then the config's
// other plugin blocks, then the plugin directories. An external plugin of
// the same name as a built-in replaces it only when its block says so.
// With a lock (Options.Lock), every external binary must match its locked
// SHA-256 before it is run, even for `describe`.
func (l *Loader) Resolve(kind sdk.Kind, name string) (*Source, error) {
	var overrides, others []External
	for _, ext := range l.opts.External {
		if ext.Override {
			overrides = append(overrides, ext)
		} else {
			others = append(others, ext)
		}
	}
	var tried []string
	src, tried, err := l.search(overrides, kind, name, tried)
	if src != nil || err != nil {
		return src, err
	}
	if l.opts.Builtin(kind, name) {
		args := append(append([]string{}, l.opts.SelfArgs...), string(kind), name)
		return &Source{Builtin: true, Path: l.opts.Self, Args: args, Plugin: "builtin"}, nil
	}
	src, tried, err = l.search(append(others, dirPlugins(l.opts.PluginDirs)...), kind, name, tried)
	if src != nil || err != nil {
		return src, err
	}
	msg := fmt.Sprintf("no plugin provides %s %q: it is not built in", kind, name)
	if len(tried) > 0 {
		msg += "; plugins searched: " + strings.Join(tried, ", ")
	} else {
		msg += fmt.Sprintf(" and no external plugin was found (plugin blocks, or %s* files in %s)",
			PluginFilePrefix, strings.Join(l.opts.PluginDirs, ", "))
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, msg)
}

// search describes candidates in order and returns the first that
// provides kind.name; tried collects what the others provide.
func (l *Loader) search(candidates []External, kind sdk.Kind, name string, tried []string) (*Source, []string, error) {
	for _, ext := range candidates {
		src, err := l.source(ext)
		if err != nil {
			return nil, tried, err
		}
		d, err := l.describe(src)
		if err != nil {
			return nil, tried, err
		}
		if provides(d, kind, name) {
			return src, tried, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", ext.Name, d.Summary()))
	}
	return nil, tried, nil
}

// source is the Source of an external plugin, with the checksum its block
// gives or, failing that, the lock's.
func (l *Loader) source(ext External) (*Source, error) {
	src := &Source{Path: ext.Path, SHA256: ext.SHA256, Plugin: ext.Name}
	if l.opts.Lock == nil {
		return src, nil
	}
	locked, ok := l.opts.Lock.Lookup(ext.Path)
	if !ok {
		return nil, &PluginError{Plugin: ext.Name, Err: fmt.Errorf("%w: %s is not in the lock file %s; run `prox plugins lock` to add it",
			ErrChecksum, ext.Path, l.opts.Lock.Path)}
	}
	if src.SHA256 != "" && !strings.EqualFold(src.SHA256, locked) {
		return nil, &PluginError{Plugin: ext.Name, Err: fmt.Errorf("%w: file %s: its plugin block says sha256 %s, the lock file %s says %s",
			ErrChecksum, ext.Path, src.SHA256, l.opts.Lock.Path, locked)}
	}
	src.SHA256, src.sumFrom = locked, l.opts.Lock.Path
	return src, nil
}
