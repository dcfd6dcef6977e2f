package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk/sdktest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConfigDefaults(t *testing.T) {
	cfg, err := parseConfig(hostConfig(t, map[string]any{"url": "https://hooks.example.com/x?y=1"}))
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.example.com", cfg.endpoint)
	assert.Equal(t, FormatJSON, cfg.format)
	assert.Nil(t, cfg.match)
	assert.Equal(t, map[string]bool{"crashed": true, "failed": true}, cfg.events)
	assert.Equal(t, 5*time.Minute, cfg.cooldown)
	assert.Nil(t, cfg.secret)
	assert.Empty(t, cfg.headers)
	assert.Equal(t, 10*time.Second, cfg.timeout)
	assert.Equal(t, time.Hour, cfg.retryFor)
	assert.Equal(t, 1000, cfg.spoolMax)
	assert.Regexp(t, `^\.prox/webhook/[0-9a-f]{16}$`, cfg.spool, "the default spool, named after the url")
	assert.False(t, cfg.spoolSet)
	assert.Equal(t, 20, cfg.contextLines)
	assert.Empty(t, cfg.ignored)

	other, err := parseConfig(hostConfig(t, map[string]any{"url": "https://hooks.example.com/y"}))
	require.NoError(t, err)
	assert.NotEqual(t, cfg.spool, other.spool, "another url, another spool")

	cfg, err = parseConfig(hostConfig(t, map[string]any{"url": "http://127.0.0.1:9093/hook", "match": "panic", "format": "Alertmanager"}))
	require.NoError(t, err)
	assert.Nil(t, cfg.events, "with match set, events default to none")
	assert.Equal(t, FormatAlertmanager, cfg.format)
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"missing url", map[string]any{}, "url: is required"},
		{"no scheme", map[string]any{"url": "example.com/x"}, "url: must start with http:// or https://"},
		{"other scheme", map[string]any{"url": "ftp://example.com/x"}, `url: must start with http:// or https://; got scheme "ftp"`},
		{"no host", map[string]any{"url": "http:///x"}, "url: has no host"},
		{"bad url", map[string]any{"url": "http://[::1"}, "url: not a valid URL"},
		{"bad regex", map[string]any{"url": "http://h", "match": "panic(["}, "match: invalid regular expression: error parsing regexp: missing closing ]"},
		{"bad format", map[string]any{"url": "http://h", "format": "xml"}, `format: must be "json", "slack" or "alertmanager"; got "xml"`},
		{"nothing to alert on", map[string]any{"url": "http://h", "events": []string{}}, "events: nothing triggers an alert"},
		{"empty event", map[string]any{"url": "http://h", "events": []string{"crashed", " "}}, "events: an event name is empty"},
		{"negative cooldown", map[string]any{"url": "http://h", "cooldown": "-1s"}, "cooldown: must be positive"},
		{"zero timeout", map[string]any{"url": "http://h", "timeout": "0s"}, "timeout: must be positive"},
		{"negative retry_for", map[string]any{"url": "http://h", "retry_for": "-1h"}, "retry_for: must be positive"},
		{"empty spool", map[string]any{"url": "http://h", "spool": " "}, "spool: is empty"},
		{"no spool room", map[string]any{"url": "http://h", "spool_max_alerts": 0}, "spool_max_alerts: must be a whole number from 1 to 1000000"},
		{"negative context", map[string]any{"url": "http://h", "context_lines": -1}, "context_lines: must be a whole number"},
		{"bad header name", map[string]any{"url": "http://h", "headers": map[string]string{"X Bad": "v"}}, `headers: invalid header name "X Bad"`},
		{"wrong type", map[string]any{"url": "http://h", "spool_max_alerts": "five"}, "failed to decode config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure(hostConfig(t, tt.values))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			if tt.name == "wrong type" {
				return
			}
			attr, _, _ := strings.Cut(tt.want, ":")
			assert.Equal(t, []string{attr}, sdktest.AttributeNames(err), "one problem, named by its attribute")
		})
	}
}

func TestConfigReportsEveryProblem(t *testing.T) {
	err := New().Configure(hostConfig(t, map[string]any{"url": "example.com/x", "match": "([a-", "cooldown": "-1m", "retry_for": "-1s"}))
	assert.Equal(t, []string{"url", "match", "cooldown", "retry_for"}, sdktest.AttributeNames(err))
}

func TestMaxRetriesIsIgnoredWithAWarning(t *testing.T) {
	w := newWebhook(t)
	s, logs := newSink(t, map[string]any{"url": w.URL, "max_retries": 2})
	assert.Contains(t, logs.String(), `"@level":"warn","@message":"max_retries is ignored: a failed delivery is retried for retry_for (default 1h); remove it"`)
	assert.Equal(t, time.Hour, s.cfg.retryFor)
}
