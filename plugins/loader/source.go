package loader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Source is where a component's plugin comes from.
type Source struct {
	// Builtin is true for components served by prox's own binary.
	Builtin bool
	// Path is the plugin binary (prox itself for built-ins).
	Path string
	// Args are the arguments that make the binary serve the component.
	Args []string
	// SHA256 is the expected checksum of Path, "" when none is configured.
	SHA256 string
	// sumFrom says where SHA256 is written: "" for the plugin block's
	// sha256, else the lock file's path.
	sumFrom string
	// Plugin is the plugin's name (the plugin block's label, or the
	// NAME of prox-plugin-NAME).
	Plugin string
}

// External is an external plugin binary named in the config.
type External struct {
	Name   string
	Path   string
	SHA256 string
	// Override lets the plugin replace a built-in component of the same
	// name; without it, the built-in wins.
	Override bool
}

// PluginFilePrefix is the file name prefix of plugins found in plugin
// directories: prox-plugin-NAME.
const PluginFilePrefix = "prox-plugin-"

// describeTimeout bounds `<binary> describe`.
const describeTimeout = 10 * time.Second

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// verify checks src's checksum when one is configured.
func verify(src *Source) error {
	if src.SHA256 == "" {
		return nil
	}
	actual, err := fileSHA256(src.Path)
	if err != nil {
		return &PluginError{Plugin: src.Plugin, Err: err}
	}
	if !strings.EqualFold(actual, src.SHA256) {
		// What to do: record the file's checksum where the expected one is
		// written, if the file is the one meant.
		from, fix := "", fmt.Sprintf("write sha256 = %q in its plugin block", actual)
		if src.sumFrom != "" {
			from, fix = " (the lock file "+src.sumFrom+")", "run `prox plugins lock` to record its checksum"
		}
		return &PluginError{Plugin: src.Plugin, Err: fmt.Errorf("%w: file %s: expected sha256 %s%s, actual %s. If this file is the plugin you mean to run (you rebuilt or upgraded it), %s; otherwise find out what replaced it",
			ErrChecksum, src.Path, strings.ToLower(src.SHA256), from, actual, fix)}
	}
	return nil
}

// describe runs `<binary> describe`, with env as its environment, and
// parses its output.
func describe(src *Source, env []string) (*sdk.Description, error) {
	if err := verify(src); err != nil {
		return nil, err
	}
	cmd := exec.Command(src.Path, "describe")
	cmd.Env = env
	cmd.WaitDelay = time.Second
	done := make(chan struct{})
	timer := time.AfterFunc(describeTimeout, func() {
		select {
		case <-done:
		default:
			if cmd.Process != nil {
				_ = cmd.Process.Kill()
			}
		}
	})
	out, err := cmd.Output()
	close(done)
	timer.Stop()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if msg := strings.TrimSpace(string(ee.Stderr)); msg != "" {
				return nil, &PluginError{Plugin: src.Plugin, Err: fmt.Errorf("%s describe: %w: %s", src.Path, err, msg)}
			}
		}
		return nil, &PluginError{Plugin: src.Plugin, Err: fmt.Errorf("%s describe: %w", src.Path, err)}
	}
	var d sdk.Description
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("plugin %q: %s describe printed no valid description: %w", src.Plugin, src.Path, err)
	}
	return &d, nil
}

// dirPlugins lists the prox-plugin-* executables in dirs, first wins.
func dirPlugins(dirs []string) []External {
	var out []External
	seen := map[string]bool{}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), PluginFilePrefix)
			if !ok || name == "" || e.IsDir() || seen[name] {
				continue
			}
			info, err := e.Info()
			if err != nil || info.Mode()&0o111 == 0 {
				continue
			}
			seen[name] = true
			out = append(out, External{Name: name, Path: filepath.Join(dir, e.Name())})
		}
	}
	return out
}

func provides(d *sdk.Description, kind sdk.Kind, name string) bool {
	switch kind {
	case sdk.KindRunner:
		return slices.Contains(d.Runners, name)
	case sdk.KindSink:
		return slices.Contains(d.Sinks, name)
	}
	return false
}
