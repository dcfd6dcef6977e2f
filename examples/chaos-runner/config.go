package main

import (
	"math"
	"syscall"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// schema is the `runner "chaos" "NAME" { ... }` block.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "kill_every", Type: sdk.TypeString, Description: `Kill each process after a random time between half and one and a half times this duration (e.g. "30s"), again and again until it exits. Default "0": never.`},
	{Name: "kill_signal", Type: sdk.TypeString, Description: `The signal of the kills, sent to the process's whole group, e.g. "SIGTERM" for a graceful stop. Default "SIGKILL".`},
	{Name: "start_delay", Type: sdk.TypeString, Description: `Delay each start by a random time below this duration (e.g. "2s"). Default "0": no delay.`},
	{Name: "seed", Type: sdk.TypeNumber, Description: "Seed of the random choices, an integer: the same seed gives the same sequence of delays. Default 0: a different sequence every run."},
}}

// rawConfig is the block's values as prox delivers them: absent attributes
// are null.
type rawConfig struct {
	KillEvery  *string  `json:"kill_every"`
	KillSignal *string  `json:"kill_signal"`
	StartDelay *string  `json:"start_delay"`
	Seed       *float64 `json:"seed"`
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
	cfg := &config{killSignal: defaultKillSignal}
	var err error
	if cfg.killEvery, err = duration("kill_every", raw.KillEvery); err != nil {
		return nil, err
	}
	if cfg.startDelay, err = duration("start_delay", raw.StartDelay); err != nil {
		return nil, err
	}
	if raw.KillSignal != nil {
		if cfg.killSignal, err = sdk.ParseSignal(*raw.KillSignal); err != nil {
			return nil, sdk.AttributeErrorf("kill_signal", "%w", err)
		}
	}
	if raw.Seed != nil {
		s := *raw.Seed
		if s != math.Trunc(s) || s < 0 || s > 1<<53 {
			return nil, sdk.AttributeErrorf("seed", "%v is not a whole number between 0 and 2^53", s)
		}
		cfg.seed = uint64(s)
	}
	return cfg, nil
}

// duration parses an optional non-negative duration attribute.
func duration(name string, v *string) (time.Duration, error) {
	if v == nil || *v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(*v)
	if err != nil {
		return 0, sdk.AttributeErrorf(name, "%w", err)
	}
	if d < 0 {
		return 0, sdk.AttributeErrorf(name, "must not be negative")
	}
	return d, nil
}
