package main

import (
	"errors"
	"regexp"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Defaults of the optional attributes.
const (
	defaultCount          = 5
	defaultWindow         = time.Minute
	defaultCooldown       = 5 * time.Minute
	defaultCommandTimeout = 10 * time.Second
)

// schema is the `sink "threshold" "NAME" { ... }` block.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "pattern", Type: sdk.TypeString, Description: `A regular expression (RE2 syntax) matched against each line; a matching line counts. Default: none (only events count). pattern, events or both are required.`},
	{Name: "events", Type: sdk.TypeListString, Description: `Process event types that count, e.g. ["crashed", "failed"]. Default [] (none).`},
	{Name: "streams", Type: sdk.TypeListString, Description: `The streams whose lines are matched: "stdout", "stderr". Default both.`},
	{Name: "count", Type: sdk.TypeInteger, Default: defaultCount, Description: "How many matches within window raise an alert, a whole number ≥ 1. Default 5."},
	{Name: "window", Type: sdk.TypeDuration, Default: defaultWindow, Description: `The sliding time window the matches must fall in, measured with the lines' own timestamps. Default "1m".`},
	{Name: "cooldown", Type: sdk.TypeDuration, Default: defaultCooldown, Description: `After an alert, no other alert for the same process (or for all, see per_process) for this long; "0s" for none. Default "5m".`},
	{Name: "per_process", Type: sdk.TypeBool, Description: "Count each process apart (true), or all the processes that use the sink together (false). Default true."},
	{Name: "command", Type: sdk.TypeListString, Description: `A command run for each alert (argv, no shell), with the alert as JSON on its stdin and PROX_ALERT_PROCESS, PROX_ALERT_COUNT and PROX_ALERT_SUMMARY in its environment; it must exit 0. Default: none. command, file or both are required.`},
	{Name: "command_timeout", Type: sdk.TypeDuration, Default: defaultCommandTimeout, Description: `How long the command may run before it is killed (and the delivery retried). Default "10s".`},
	{Name: "file", Type: sdk.TypeString, Description: "A file each alert is appended to, as one JSON line (created with mode 0644; a relative path is relative to prox's working directory). Default: none."},
}}

// rawConfig is the block's values as prox delivers them: absent attributes
// are null, or their schema Default (put in by the SDK); durations are
// checked by prox and arrive as nanoseconds, count as a whole number.
type rawConfig struct {
	Pattern        *string       `json:"pattern"`
	Events         []string      `json:"events"`
	Streams        []string      `json:"streams"`
	Count          int64         `json:"count"`
	Window         time.Duration `json:"window"`
	Cooldown       time.Duration `json:"cooldown"`
	PerProcess     *bool         `json:"per_process"`
	Command        []string      `json:"command"`
	CommandTimeout time.Duration `json:"command_timeout"`
	File           *string       `json:"file"`
}

// config is the validated block with its defaults applied.
type config struct {
	pattern        *regexp.Regexp // nil: lines never count
	events         map[string]bool
	streams        map[sdk.Stream]bool
	count          int
	window         time.Duration
	cooldown       time.Duration
	perProcess     bool
	command        []string
	commandTimeout time.Duration
	file           string
}

func parseConfig(c *sdk.Config) (*config, error) {
	var raw rawConfig
	if err := c.Decode(&raw); err != nil {
		return nil, err
	}
	cfg := &config{
		events:         map[string]bool{},
		streams:        map[sdk.Stream]bool{sdk.Stdout: true, sdk.Stderr: true},
		perProcess:     true,
		command:        raw.Command,
		window:         raw.Window,
		cooldown:       raw.Cooldown,
		commandTimeout: raw.CommandTimeout,
	}
	if raw.Pattern != nil && *raw.Pattern != "" {
		re, err := regexp.Compile(*raw.Pattern)
		if err != nil {
			return nil, sdk.AttributeErrorf("pattern", "%w", err)
		}
		cfg.pattern = re
	}
	for _, e := range raw.Events {
		cfg.events[e] = true
	}
	if cfg.pattern == nil && len(cfg.events) == 0 {
		return nil, errors.New("nothing to count: set pattern, events or both")
	}
	if raw.Streams != nil {
		cfg.streams = map[sdk.Stream]bool{}
		for _, s := range raw.Streams {
			switch s {
			case "stdout":
				cfg.streams[sdk.Stdout] = true
			case "stderr":
				cfg.streams[sdk.Stderr] = true
			default:
				return nil, sdk.AttributeErrorf("streams", "%q is neither \"stdout\" nor \"stderr\"", s)
			}
		}
	}
	if n := raw.Count; n < 1 || n > 1e6 {
		return nil, sdk.AttributeErrorf("count", "%v is not a whole number between 1 and 1000000", n)
	}
	cfg.count = int(raw.Count)
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"window", cfg.window}, {"cooldown", cfg.cooldown}, {"command_timeout", cfg.commandTimeout}} {
		if d.d < 0 {
			return nil, sdk.AttributeErrorf(d.name, "must not be negative")
		}
	}
	if cfg.window == 0 {
		return nil, sdk.AttributeErrorf("window", "must be longer than 0s")
	}
	if raw.PerProcess != nil {
		cfg.perProcess = *raw.PerProcess
	}
	if raw.File != nil {
		cfg.file = *raw.File
	}
	if len(cfg.command) == 0 && cfg.file == "" {
		return nil, errors.New("nowhere to deliver alerts: set command, file or both")
	}
	if raw.Command != nil && (len(cfg.command) == 0 || cfg.command[0] == "") {
		return nil, sdk.AttributeErrorf("command", "the argv must name a program")
	}
	return cfg, nil
}
