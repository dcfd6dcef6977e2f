package webhook

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// payloadBatch raises one event alert for web (with two context lines)
// and one match alert for api.
func payloadBatch() *sdk.Batch {
	return &sdk.Batch{Seq: 1,
		Entries: []sdk.LogEntry{
			line("web", 0, "starting"),
			line("web", 1, "listening <on> :8080 & more"),
			line("api", 2, "panic: index out of range"),
		},
		Events: []sdk.Event{{Timestamp: at(5), Process: "web", Type: "exited", State: "crashed", PreviousState: "running", ExitCode: 1, Restarts: 2}},
	}
}

func TestJSONPayload(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL + "/hook", "match": "^panic:", "events": []string{"crashed"}})
	write(t, s, payloadBatch())

	reqs := w.received()
	require.Len(t, reqs, 1, "alerts of one Write go in one request")
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/hook", reqs[0].Path)
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.JSONEq(t, `{"alerts": [
		{
			"process": "api", "trigger": "match",
			"summary": "process api logged a line matching the alert pattern",
			"line": "panic: index out of range",
			"time": "2024-05-06T07:08:09.125456789Z", "suppressed": 0
		},
		{
			"process": "web", "trigger": "event",
			"summary": "process web crashed (exit 1, restarts 2)",
			"event": {"type": "exited", "state": "crashed", "previous_state": "running", "exit_code": 1,
				"signal": "", "message": "", "restarts": 2, "time": "2024-05-06T07:08:09.128456789Z"},
			"time": "2024-05-06T07:08:09.128456789Z", "suppressed": 0,
			"context": ["starting", "listening <on> :8080 & more"]
		}
	]}`, string(reqs[0].Body))
}

func TestSlackPayload(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "format": "slack", "match": "^panic:", "events": []string{"crashed"}})
	write(t, s, payloadBatch())

	reqs := w.received()
	require.Len(t, reqs, 1)
	var body map[string]string
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	assert.Equal(t, []string{"text"}, keys(body))
	assert.Equal(t, ":rotating_light: *prox*: process api logged a line matching the alert pattern\n"+
		"```\npanic: index out of range\n```\n\n"+
		":rotating_light: *prox*: process web crashed (exit 1, restarts 2)\n"+
		"Last lines:\n```\nstarting\nlistening &lt;on&gt; :8080 &amp; more\n```", body["text"])
}

func TestAlertmanagerPayload(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "format": "alertmanager", "match": "^panic:", "events": []string{"crashed"}})
	write(t, s, payloadBatch())

	reqs := w.received()
	require.Len(t, reqs, 1)
	var body struct {
		Alerts []struct {
			Fingerprint string `json:"fingerprint"`
		} `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal(reqs[0].Body, &body))
	require.Len(t, body.Alerts, 2)
	assert.Regexp(t, "^[0-9a-f]{16}$", body.Alerts[0].Fingerprint)
	assert.NotEqual(t, body.Alerts[0].Fingerprint, body.Alerts[1].Fingerprint)
	assert.JSONEq(t, `{
		"version": "4", "status": "firing", "receiver": "prox",
		"groupKey": "{}:{}", "truncatedAlerts": 0,
		"groupLabels": {}, "commonLabels": {"severity": "warning"}, "commonAnnotations": {}, "externalURL": "",
		"alerts": [
			{
				"status": "firing",
				"labels": {"alertname": "ProxLogMatch", "process": "api", "severity": "warning", "trigger": "match"},
				"annotations": {
					"summary": "process api logged a line matching the alert pattern",
					"description": "process api logged a line matching the alert pattern\nLine: panic: index out of range"
				},
				"startsAt": "2024-05-06T07:08:09.125456789Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
				"fingerprint": "`+body.Alerts[0].Fingerprint+`"
			},
			{
				"status": "firing",
				"labels": {"alertname": "ProxProcessCrashed", "process": "web", "severity": "warning", "trigger": "event", "event": "crashed"},
				"annotations": {
					"summary": "process web crashed (exit 1, restarts 2)",
					"description": "process web crashed (exit 1, restarts 2)\nLast lines:\nstarting\nlistening <on> :8080 & more"
				},
				"startsAt": "2024-05-06T07:08:09.128456789Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
				"fingerprint": "`+body.Alerts[1].Fingerprint+`"
			}
		]
	}`, string(reqs[0].Body))
}

func TestAlertmanagerGroupOfOneProcess(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "format": "alertmanager", "events": []string{"failed"}, "cooldown": "0"})
	write(t, s, &sdk.Batch{Seq: 1, Events: []sdk.Event{
		{Timestamp: at(0), Process: "web", State: "failed", Message: "restart limit reached"},
	}})
	var body amBody
	require.NoError(t, json.Unmarshal(w.received()[0].Body, &body))
	assert.Equal(t, map[string]string{"alertname": "ProxProcessFailed", "process": "web"}, body.GroupLabels)
	assert.Equal(t, `{}:{alertname="ProxProcessFailed", process="web"}`, body.GroupKey)
	assert.Equal(t, "critical", body.CommonLabels["severity"])
	assert.Equal(t, "process web failed: restart limit reached", body.Alerts[0].Annotations["summary"])
}

func TestLongAndInvalidLinesInPayload(t *testing.T) {
	w := newWebhook(t)
	s, _ := newSink(t, map[string]any{"url": w.URL, "match": "ERR"})
	long := "ERR " + strings.Repeat("é", 3000)
	write(t, s, &sdk.Batch{Seq: 1, Entries: []sdk.LogEntry{
		{Timestamp: at(0), Process: "a", Stream: sdk.Stderr, Line: []byte("ERR \xff\xfe bytes")},
		{Timestamp: at(1), Process: "b", Stream: sdk.Stderr, Line: []byte(long)},
	}})
	alerts := w.jsonAlerts(t)
	require.Len(t, alerts, 2)
	assert.Equal(t, "ERR \ufffd\ufffd bytes", *alerts[0].Line)
	cut := *alerts[1].Line
	assert.LessOrEqual(t, len(cut), alerting.MaxLineBytes)
	assert.True(t, strings.HasSuffix(cut, "é…"), "cut at a character boundary: %q", cut[len(cut)-10:])
	assert.True(t, strings.HasPrefix(long, strings.TrimSuffix(cut, "…")))
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
