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
	assert.Equal(t, 5, cfg.maxRetries)
	assert.Equal(t, 20, cfg.contextLines)

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
		{"bad cooldown", map[string]any{"url": "http://h", "cooldown": "5 minutes"}, "cooldown: time: unknown unit"},
		{"negative cooldown", map[string]any{"url": "http://h", "cooldown": "-1s"}, "cooldown: must be positive"},
		{"zero timeout", map[string]any{"url": "http://h", "timeout": "0s"}, "timeout: must be positive"},
		{"fractional retries", map[string]any{"url": "http://h", "max_retries": 1.5}, "max_retries: must be a whole number"},
		{"negative context", map[string]any{"url": "http://h", "context_lines": -1}, "context_lines: must be a whole number"},
		{"bad header name", map[string]any{"url": "http://h", "headers": map[string]string{"X Bad": "v"}}, `headers: invalid header name "X Bad"`},
		{"wrong type", map[string]any{"url": "http://h", "max_retries": "five"}, "failed to decode config"},
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
	err := New().Configure(hostConfig(t, map[string]any{"url": "example.com/x", "match": "([a-", "cooldown": "soon", "max_retries": -1}))
	assert.Equal(t, []string{"url", "match", "cooldown", "max_retries"}, sdktest.AttributeNames(err))
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	for attempt, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond} {
		for range 20 {
			d := backoff(attempt)
			assert.GreaterOrEqual(t, d, want/2)
			assert.LessOrEqual(t, d, want)
		}
	}
	for _, attempt := range []int{6, 10, 50} {
		d := backoff(attempt)
		assert.GreaterOrEqual(t, d, maxBackoff/2)
		assert.LessOrEqual(t, d, maxBackoff)
	}
}
