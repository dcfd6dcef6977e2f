package supervisor

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/prox-dev/prox/supervisor/policy"
)

// RestartPolicy says when and how fast a process is restarted. A zero
// field takes the default of package policy.
type RestartPolicy struct {
	// Policy is policy.RestartNever, policy.RestartOnFailure or policy.RestartAlways;
	// default policy.DefaultRestartPolicy.
	Policy string
	// Backoff is the first delay; each further consecutive restart doubles
	// it, up to MaxBackoff, with ±25% jitter. 0 restarts at once (the
	// config file's default is policy.DefaultBackoff).
	Backoff time.Duration
	// MaxBackoff caps the delay; default policy.DefaultMaxBackoff.
	MaxBackoff time.Duration
	// ResetAfter: a run that lasted this long resets the backoff; default
	// policy.DefaultResetAfter.
	ResetAfter time.Duration
	// MaxRestarts within Window, then the process is failed; defaults
	// policy.DefaultMaxRestarts in policy.DefaultWindow (5 in 1m).
	// policy.NoRestarts (or any negative value) allows none.
	MaxRestarts int
	Window      time.Duration
	// SuccessCodes are the exit codes that count as success; default
	// policy.DefaultSuccessCodes() ([0]).
	SuccessCodes []int
}

// withDefaults fills the zero fields of a policy.
func (p RestartPolicy) withDefaults() RestartPolicy {
	if p.Policy == "" {
		p.Policy = policy.DefaultRestartPolicy
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = policy.DefaultMaxBackoff
	}
	if p.ResetAfter <= 0 {
		p.ResetAfter = policy.DefaultResetAfter
	}
	switch {
	case p.MaxRestarts == 0:
		p.MaxRestarts = policy.DefaultMaxRestarts
	case p.MaxRestarts < 0:
		p.MaxRestarts = 0
	}
	if p.Window <= 0 {
		p.Window = policy.DefaultWindow
	}
	if p.SuccessCodes == nil {
		p.SuccessCodes = policy.DefaultSuccessCodes()
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
	case policy.RestartAlways:
		return true
	case policy.RestartOnFailure:
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
