package agent

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prox-dev/prox/supervisor/config"
)

// DefaultWatchDebounce is how long prox up -watch waits after the last
// change of a watched file before it reloads: an editor's save, or a
// checkout that writes many files, is one reload.
const DefaultWatchDebounce = 300 * time.Millisecond

// watchedFiles are the files whose change reloads cfg: the file itself,
// its dotenv file and every env_file, by absolute path.
func watchedFiles(cfg *config.Config) []string {
	files := []string{cfg.Path}
	if cfg.DotenvFile != "" {
		files = append(files, cfg.DotenvFile)
	}
	for _, p := range cfg.Processes {
		if p.EnvFile != "" {
			files = append(files, p.EnvFile)
		}
	}
	for i, f := range files {
		files[i] = filepath.Clean(f)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// watch reloads the configuration whenever one of its files changes, once
// they have been quiet for debounce, until ctx ends. It watches the
// folders of the files, not the files: an editor that saves by writing
// another file and renaming it over the old one replaces the file, and a
// watch on the old one would see nothing more. After each reload it
// watches the files of the configuration now running (a new env_file).
func (a *Agent) watch(ctx context.Context, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	go func() {
		defer w.Close()
		files := map[string]bool{}
		dirs := map[string]bool{}
		follow := func() {
			a.reload.mu.Lock()
			cfg := a.reload.cur.cfg
			a.reload.mu.Unlock()
			clear(files)
			want := map[string]bool{}
			for _, f := range watchedFiles(cfg) {
				files[f] = true
				want[filepath.Dir(f)] = true
			}
			for d := range dirs {
				if !want[d] {
					_ = w.Remove(d)
					delete(dirs, d)
				}
			}
			for d := range want {
				if dirs[d] {
					continue
				}
				if err := w.Add(d); err != nil {
					a.logger.Warn("watch: cannot watch a folder of the configuration", "folder", d, "error", err)
					continue
				}
				dirs[d] = true
			}
		}
		follow()
		a.logger.Info("watching the configuration: a change reloads it", "files", len(files))
		timer := time.NewTimer(time.Hour)
		timer.Stop()
		defer timer.Stop()
		var changed []string
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				name := filepath.Clean(ev.Name)
				if !files[name] || ev.Op == fsnotify.Chmod {
					continue
				}
				if !slices.Contains(changed, name) {
					changed = append(changed, name)
				}
				timer.Reset(debounce)
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.logger.Warn("watch", "error", err)
			case <-timer.C:
				a.logger.Info("watch: the configuration changed, reloading", "files", changed)
				changed = nil
				a.reloadAndLog(ctx)
				follow()
			}
		}
	}()
	return nil
}

// reloadAndLog reloads and logs the outcome: prox up -watch's reload, and
// SIGHUP's.
func (a *Agent) reloadAndLog(ctx context.Context) {
	err := a.Reload(ctx)
	var ce *ConfigError
	switch {
	case errors.As(err, &ce):
		a.logger.Error("the configuration has errors; nothing was changed\n" + ce.Error())
	case err != nil:
		a.logger.Error("reload", "error", err)
	}
}
