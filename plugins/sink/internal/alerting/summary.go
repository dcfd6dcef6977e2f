package alerting

import (
	"strconv"
	"strings"
)

// Summary is a one-line description of an alert, e.g.
// "process web crashed (exit 1, restarts 2)".
func Summary(a *Alert) string {
	if a.Trigger == TriggerMatch {
		return "process " + a.Process + " logged a line matching the alert pattern"
	}
	ev := a.Event
	var b strings.Builder
	b.WriteString("process ")
	b.WriteString(a.Process)
	b.WriteByte(' ')
	b.WriteString(a.EventName)
	var details []string
	if ev.Signal != "" {
		details = append(details, "signal "+ev.Signal)
	} else if ev.ExitCode != 0 {
		details = append(details, "exit "+strconv.Itoa(ev.ExitCode))
	}
	if ev.Restarts > 0 {
		details = append(details, "restarts "+strconv.Itoa(ev.Restarts))
	}
	if len(details) > 0 {
		b.WriteString(" (" + strings.Join(details, ", ") + ")")
	}
	if ev.Message != "" {
		b.WriteString(": " + ev.Message)
	}
	return b.String()
}

// SuppressedNote says how many repeats an alert stands for, or "".
func SuppressedNote(a *Alert) string {
	switch a.Suppressed {
	case 0:
		return ""
	case 1:
		return "1 more time"
	default:
		return strconv.Itoa(a.Suppressed) + " more times"
	}
}
