package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// ProcessPlaceholder in path is replaced by the process name: one file per
// process.
const ProcessPlaceholder = "{process}"

// Defaults of the optional attributes.
const (
	// DefaultMaxSize is the default max_size: 100 MiB.
	DefaultMaxSize = 100 << 20
	// DefaultMaxBackups is the default max_backups.
	DefaultMaxBackups = 3
)

// schema is the sink's block in prox.hcl.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "path", Type: sdk.TypeString, Required: true, Description: `The file to write; "{process}" in it gives one file per process, otherwise all processes share one file. A relative path is relative to the folder of the configuration file (prox runs its plugins there). Missing directories are created (mode 0755).`},
	{Name: "max_size", Type: sdk.TypeString, Description: `Rotate a file before a batch of lines would make it grow beyond this size (a batch larger than it gets a file of its own), e.g. "10MiB", "500KB", "1GB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of 1024); "0" never rotates. Default "100MiB".`},
	{Name: "max_backups", Type: sdk.TypeInteger, Default: DefaultMaxBackups, Description: "How many rotated files to keep (PATH.1 is the newest); 0 keeps none. Default 3."},
	{Name: "max_age", Type: sdk.TypeDuration, Description: `Remove rotated files last written longer ago than this duration, e.g. "168h". Default: none (age does not matter).`},
	{Name: "timestamp", Type: sdk.TypeBool, Description: "Prefix each line with its RFC 3339 timestamp (nanoseconds). Default false."},
	{Name: "stream_prefix", Type: sdk.TypeBool, Description: `Prefix each line with "stdout " or "stderr ". Default false.`},
	{Name: "process_prefix", Type: sdk.TypeBool, Description: `Prefix each line with "NAME | ". Default true for a combined file, false for one file per process.`},
	{Name: "events", Type: sdk.TypeBool, Description: `Write process events (e.g. "--- prox: process web crashed (exit 1)") to the process's file. Default true.`},
}}

// rawConfig is the block's values as the host delivers them, with the
// schema's defaults; absent optional attributes are null.
type rawConfig struct {
	Path          *string       `json:"path"`
	MaxSize       *string       `json:"max_size"`
	MaxBackups    int           `json:"max_backups"`
	MaxAge        time.Duration `json:"max_age"`
	Timestamp     *bool         `json:"timestamp"`
	StreamPrefix  *bool         `json:"stream_prefix"`
	ProcessPrefix *bool         `json:"process_prefix"`
	Events        *bool         `json:"events"`
}

// config is the validated configuration with its defaults applied.
type config struct {
	// path is absolute; it holds ProcessPlaceholder when perProcess.
	path          string
	perProcess    bool
	maxSize       int64
	maxBackups    int
	maxAge        time.Duration
	timestamp     bool
	streamPrefix  bool
	processPrefix bool
	events        bool
}

// parseConfig decodes and validates the values of the block; it reports
// every problem at once, each as an sdk.AttributeError.
func parseConfig(c *sdk.Config) (*config, error) {
	// The SDK has put the defaults in; so does a direct call.
	values, err := schema.ApplyDefaults(c.Values)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	if err := (&sdk.Config{Values: values}).Decode(&raw); err != nil {
		return nil, err
	}
	var problems []error
	cfg := &config{
		maxSize:    DefaultMaxSize,
		maxBackups: raw.MaxBackups,
		maxAge:     raw.MaxAge,
		events:     true,
	}
	if raw.Path == nil || strings.TrimSpace(*raw.Path) == "" {
		problems = append(problems, sdk.AttributeErrorf("path", "is required"))
	} else if path, err := filepath.Abs(*raw.Path); err != nil {
		problems = append(problems, sdk.AttributeErrorf("path", "%q: %w", *raw.Path, err))
	} else {
		cfg.path, cfg.perProcess = path, strings.Contains(path, ProcessPlaceholder)
	}
	cfg.processPrefix = !cfg.perProcess
	if raw.MaxSize != nil {
		size, err := parseSize(*raw.MaxSize)
		if err != nil {
			problems = append(problems, sdk.AttributeErrorf("max_size", "%w", err))
		}
		cfg.maxSize = size
	}
	if n := raw.MaxBackups; n < 0 || n > 1000 {
		problems = append(problems, sdk.AttributeErrorf("max_backups", "must be a whole number from 0 to 1000; got %v", n))
	}
	if raw.MaxAge < 0 {
		problems = append(problems, sdk.AttributeErrorf("max_age", "must not be negative; got %q", raw.MaxAge))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	setBool(&cfg.timestamp, raw.Timestamp)
	setBool(&cfg.streamPrefix, raw.StreamPrefix)
	setBool(&cfg.processPrefix, raw.ProcessPrefix)
	setBool(&cfg.events, raw.Events)
	return cfg, nil
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

// checkCreatable says, without creating anything, why the files of cfg
// could not be written: the nearest folder of the path that exists must
// be a folder (not a file), and an existing file must be a regular file.
func checkCreatable(cfg *config) error {
	path := cfg.path
	if cfg.perProcess {
		path = filepath.Dir(path[:strings.Index(path, ProcessPlaceholder)] + "x")
	} else if st, err := os.Stat(path); err == nil {
		if !st.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		return nil
	} else {
		path = filepath.Dir(path)
	}
	for p := path; ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		switch {
		case err == nil && st.IsDir():
			return nil
		case err == nil:
			return fmt.Errorf("cannot create %s: %s is not a folder", path, p)
		case !errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("cannot create %s: %w", path, err)
		}
		if parent := filepath.Dir(p); parent == p {
			return nil
		}
	}
}
