package control

import (
	"fmt"
	"time"
)

// The text the clients of the API show for its values, the same in
// prox ps, prox down and prox top.

// Text describes how a run ended: "-" (none, also for a nil e), "exit 0",
// "SIGTERM", "plugin died" (its runner plugin's, which took it along).
func (e *Exit) Text() string {
	switch {
	case e == nil:
		return "-"
	case e.RunnerDied:
		return "plugin died"
	case e.Signal != "":
		return e.Signal
	default:
		return fmt.Sprintf("exit %d", e.Code)
	}
}

// DurationText prints d in its two largest units: 45s, 3m12s, 2h05m,
// 3d04h.
func DurationText(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	default:
		return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
	}
}
