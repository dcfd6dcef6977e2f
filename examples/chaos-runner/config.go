package main

import (
	"syscall"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// schema is the `runner "chaos" "NAME" { ... }` block.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "kill_every", Type: sdk.TypeDuration, Description: `Kill each process after a random time between half and one and a half times this duration (e.g. "30s"), again and again until it exits. Default "0": never.`},
	{Name: "kill_signal", Type: sdk.TypeString, Description: `The signal of the kills, sent to the process's whole group, e.g. "SIGTERM" for a graceful stop. Default "SIGKILL".`},
	{Name: "start_delay", Type: sdk.TypeDuration, Description: `Delay each start by a random time below this duration (e.g. "2s"). Default "0": no delay.`},
	{Name: "seed", Type: sdk.TypeInteger, Description: "Seed of the random choices, an integer: the same seed gives the same sequence of delays. Default 0: a different sequence every run."},
}}

// rawConfig is the block's values as prox delivers them: absent attributes
// are null (zero here), durations are checked by prox and arrive as
// nanoseconds, the seed as a whole number.
type rawConfig struct {
	KillEvery  time.Duration `json:"kill_every"`
	KillSignal *string       `json:"kill_signal"`
	StartDelay time.Duration `json:"start_delay"`
	Seed       int64         `json:"seed"`
}

// config is the validated block with its defaults applied.
type config struct {
	killEvery  time.Duration
	killSignal syscall.Signal
	startDelay time.Duration
	seed       uint64 // 0: random
}

func parseConfig(c *sdk.Config) (*config, error) {
	var raw rawConfig
	if err := c.Decode(&raw); err != nil {
		return nil, err
	}
	cfg := &config{killSignal: defaultKillSignal, killEvery: raw.KillEvery, startDelay: raw.StartDelay}
	if cfg.killEvery < 0 {
		return nil, sdk.AttributeErrorf("kill_every", "must not be negative")
	}
	if cfg.startDelay < 0 {
		return nil, sdk.AttributeErrorf("start_delay", "must not be negative")
	}
	var err error
	if raw.KillSignal != nil {
		if cfg.killSignal, err = sdk.ParseSignal(*raw.KillSignal); err != nil {
			return nil, sdk.AttributeErrorf("kill_signal", "%w", err)
		}
	}
	if s := raw.Seed; s < 0 || s > 1<<53 {
		return nil, sdk.AttributeErrorf("seed", "%v is not a whole number between 0 and 2^53", s)
	}
	cfg.seed = uint64(raw.Seed)
	return cfg, nil
}
