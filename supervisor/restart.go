package supervisor

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Restart policies.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// RestartPolicy says when and how fast a process is restarted.
type RestartPolicy struct {
	// Policy is RestartNever (default), RestartOnFailure or RestartAlways.
	Policy string
	// Backoff is the first delay; each further consecutive restart doubles
	// it, up to MaxBackoff, with ±25% jitter. Default 1s; 0 restarts at once.
	Backoff    time.Duration
	MaxBackoff time.Duration // default 30s
	// ResetAfter: a run that lasted this long resets the backoff. Default 60s.
	ResetAfter time.Duration
	// MaxRestarts within Window, then the process is failed. Default 5 in 1m.
	MaxRestarts int
	Window      time.Duration
	// SuccessCodes are the exit codes that count as success; default [0].
	SuccessCodes []int
}

// withDefaults fills the zero fields of a policy that was not built from a
// config file (which applies the defaults itself).
func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.Policy == "" {
		p.Policy = RestartNever
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = 30 * time.Second
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = time.Minute
	}
	if p.Window <= 0 {
		p.Window = time.Minute
	}
	if p.SuccessCodes == nil {
		p.SuccessCodes = []int{0}
	}
	return p
}

// success reports whether an exit counts as success.
func (p RestartPolicy) success(st ExitStatus) bool {
	return st.Signal == "" && st.Error == "" && slices.Contains(p.SuccessCodes, st.Code)
}

// wantsRestart reports whether the policy restarts after an exit.
func (p RestartPolicy) wantsRestart(success bool) bool {
	switch p.Policy {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return !success
	}
	return false
}

// delay returns the backoff before restart number n (0 for the first
// consecutive restart): Backoff * 2^n capped at MaxBackoff, ±25% jitter.
func (p RestartPolicy) delay(n int, rnd func() float64) time.Duration {
	if p.Backoff <= 0 {
		return 0
	}
	d := p.Backoff
	for i := 0; i < n && d < p.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.MaxBackoff)
	if rnd == nil {
		rnd = rand.Float64
	}
	jitter := (rnd()*2 - 1) * 0.25 // [-0.25, 0.25)
	return time.Duration(float64(d) * (1 + jitter))
}

// burst tracks restarts within the policy's window.
type burst struct {
	times []time.Time
}

// allow records a restart at now and reports whether it stays within max
// restarts per window.
func (b *burst) allow(now time.Time, max int, window time.Duration) bool {
	keep := b.times[:0]
	for _, t := range b.times {
		if now.Sub(t) < window {
			keep = append(keep, t)
		}
	}
	b.times = keep
	if len(b.times) >= max {
		return false
	}
	b.times = append(b.times, now)
	return true
}

func (b *burst) reset() { b.times = b.times[:0] }
