package webhook

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
)

// receiver is the receiver name in Alertmanager payloads.
const receiver = "prox"

// encode renders alerts in format as a request body.
func encode(format string, alerts []*alerting.Alert) ([]byte, error) {
	var v any
	switch format {
	case FormatSlack:
		v = slackPayload(alerts)
	case FormatAlertmanager:
		v = alertmanagerPayload(alerts)
	default:
		v = jsonPayload(alerts)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s payload: %w", format, err)
	}
	return b, nil
}

// jsonBody is the "json" format; see the package documentation.
type jsonBody struct {
	Alerts []jsonAlert `json:"alerts"`
}

type jsonAlert struct {
	Process    string     `json:"process"`
	Trigger    string     `json:"trigger"`
	Summary    string     `json:"summary"`
	Event      *jsonEvent `json:"event,omitempty"`
	Line       *string    `json:"line,omitempty"`
	Time       time.Time  `json:"time"`
	Suppressed int        `json:"suppressed"`
	Context    []string   `json:"context,omitempty"`
}

type jsonEvent struct {
	Type          string    `json:"type"`
	State         string    `json:"state"`
	PreviousState string    `json:"previous_state"`
	ExitCode      int       `json:"exit_code"`
	Signal        string    `json:"signal"`
	Message       string    `json:"message"`
	Restarts      int       `json:"restarts"`
	Time          time.Time `json:"time"`
}

func jsonPayload(alerts []*alerting.Alert) *jsonBody {
	out := &jsonBody{Alerts: make([]jsonAlert, 0, len(alerts))}
	for _, a := range alerts {
		ja := jsonAlert{
			Process: a.Process, Trigger: a.Trigger, Summary: alerting.Summary(a), Time: a.Time.UTC(),
			Suppressed: a.Suppressed, Context: a.Context,
		}
		if ev := a.Event; ev != nil {
			ja.Event = &jsonEvent{
				Type: string(ev.Type), State: string(ev.State), PreviousState: string(ev.PreviousState), ExitCode: ev.ExitCode,
				Signal: ev.Signal, Message: ev.Message, Restarts: ev.Restarts, Time: ev.Timestamp.UTC(),
			}
		}
		if a.Trigger == alerting.TriggerMatch {
			line := string(a.Line)
			ja.Line = &line
		}
		out.Alerts = append(out.Alerts, ja)
	}
	return out
}

// slackBody is a Slack incoming-webhook message.
type slackBody struct {
	Text string `json:"text"`
}

func slackPayload(alerts []*alerting.Alert) *slackBody {
	var b strings.Builder
	for i, a := range alerts {
		if i > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(":rotating_light: *prox*: ")
		b.WriteString(slackEscape(alerting.Summary(a)))
		if n := alerting.SuppressedNote(a); n != "" {
			b.WriteString(" (and " + n + " since the last alert)")
		}
		var block []string
		if a.Trigger == alerting.TriggerMatch {
			block = []string{string(a.Line)}
		} else if len(a.Context) > 0 {
			b.WriteString("\nLast lines:")
			block = a.Context
		}
		if len(block) > 0 {
			b.WriteString("\n```\n")
			for _, l := range block {
				// A line of backticks must not end the block.
				b.WriteString(slackEscape(strings.ReplaceAll(l, "```", "`\u200b``")))
				b.WriteByte('\n')
			}
			b.WriteString("```")
		}
	}
	return &slackBody{Text: b.String()}
}

// slackEscape escapes the characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// amBody is Alertmanager's webhook payload, version 4.
type amBody struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// alertName and severity map an alert to Alertmanager labels.
func alertName(a *alerting.Alert) (name, severity string) {
	if a.Trigger == alerting.TriggerMatch {
		return "ProxLogMatch", "warning"
	}
	switch a.EventName {
	case string(sdk.EventCrashed):
		return "ProxProcessCrashed", "warning"
	case string(sdk.EventFailed):
		return "ProxProcessFailed", "critical"
	default:
		return "ProxProcessEvent", "info"
	}
}

func alertmanagerPayload(alerts []*alerting.Alert) *amBody {
	out := &amBody{
		Version: "4", Status: "firing", Receiver: receiver,
		GroupLabels: map[string]string{}, CommonAnnotations: map[string]string{},
		Alerts: make([]amAlert, 0, len(alerts)),
	}
	for i, a := range alerts {
		name, severity := alertName(a)
		labels := map[string]string{"alertname": name, "process": a.Process, "severity": severity, "trigger": a.Trigger}
		if a.Trigger == alerting.TriggerEvent {
			labels["event"] = a.EventName
		}
		desc := []string{alerting.Summary(a)}
		if n := alerting.SuppressedNote(a); n != "" {
			desc = append(desc, "Repeated "+n+" since the last alert.")
		}
		if a.Trigger == alerting.TriggerMatch {
			desc = append(desc, "Line: "+string(a.Line))
		} else if len(a.Context) > 0 {
			desc = append(desc, "Last lines:\n"+strings.Join(a.Context, "\n"))
		}
		out.Alerts = append(out.Alerts, amAlert{
			Status: "firing", Labels: labels,
			Annotations: map[string]string{"summary": alerting.Summary(a), "description": strings.Join(desc, "\n")},
			StartsAt:    a.Time.UTC().Format(time.RFC3339Nano),
			EndsAt:      time.Time{}.Format(time.RFC3339),
			Fingerprint: fingerprint(labels),
		})
		if i == 0 {
			out.CommonLabels = maps.Clone(labels)
		} else {
			for k, v := range out.CommonLabels {
				if labels[k] != v {
					delete(out.CommonLabels, k)
				}
			}
		}
	}
	if out.CommonLabels == nil {
		out.CommonLabels = map[string]string{}
	}
	for _, k := range []string{"alertname", "process"} {
		if v, ok := out.CommonLabels[k]; ok {
			out.GroupLabels[k] = v
		}
	}
	out.GroupKey = "{}:" + labelSet(out.GroupLabels)
	return out
}

// labelSet renders labels as Alertmanager does: {a="1", b="2"}, sorted.
func labelSet(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// fingerprint identifies a label set, as Alertmanager's fingerprint does
// (not the same hash function): 16 hex digits.
func fingerprint(labels map[string]string) string {
	h := fnv.New64a()
	h.Write([]byte(labelSet(labels)))
	return fmt.Sprintf("%016x", h.Sum64())
}
