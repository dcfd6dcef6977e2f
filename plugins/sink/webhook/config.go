package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
)

// The payload formats.
const (
	FormatJSON         = "json"
	FormatSlack        = "slack"
	FormatAlertmanager = "alertmanager"
)

// Defaults of the optional attributes.
const (
	// DefaultCooldown is the default cooldown.
	DefaultCooldown = 5 * time.Minute
	// DefaultTimeout is the default timeout of one HTTP request.
	DefaultTimeout = 10 * time.Second
	// DefaultRetryFor is the default retry_for: how long a failed
	// delivery is retried before its alerts are dropped.
	DefaultRetryFor = time.Hour
	// DefaultSpoolMaxAlerts is the default spool_max_alerts.
	DefaultSpoolMaxAlerts = 1000
	// DefaultContextLines is the default context_lines.
	DefaultContextLines = 20
)

// SpoolRoot is the folder, relative to the configuration's folder (the
// working directory of the sink's plugin), that holds the default spool
// of every webhook sink: SpoolRoot/HASH, where HASH is the first 16 hex
// digits of the SHA-256 of the sink's url.
const SpoolRoot = ".prox/webhook"

// maxSpoolMaxAlerts bounds spool_max_alerts.
const maxSpoolMaxAlerts = 1_000_000

// schema is the sink's block in prox.hcl.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.TypeString, Required: true, Description: "The http:// or https:// URL alerts are POSTed to."},
	{Name: "format", Type: sdk.TypeString, Description: `The payload: "json" (prox's own), "slack" (an incoming-webhook message) or "alertmanager" (Alertmanager's webhook payload, version 4). Default "json".`},
	{Name: "match", Type: sdk.TypeString, Description: "A regular expression (RE2 syntax); a log line that matches it raises an alert. Default: none."},
	{Name: "events", Type: sdk.TypeListString, Description: `Process events that raise an alert, by state or type, e.g. ["crashed", "failed"]. Default: ["crashed", "failed"] when match is not set either, none otherwise.`},
	{Name: "cooldown", Type: sdk.TypeDuration, Default: DefaultCooldown, Description: `At most one alert per process and trigger within this duration; repeats are counted and reported with the next alert. "0" turns de-duplication off. Default "5m".`},
	{Name: "secret", Type: sdk.TypeString, Description: `Signs each request: header X-Prox-Signature is "sha256=" and the hex HMAC-SHA256 of the body with this key. Default: none (unsigned).`},
	{Name: "headers", Type: sdk.TypeMapString, Description: "Extra HTTP headers sent with every request, e.g. an Authorization header. Default: none."},
	{Name: "timeout", Type: sdk.TypeDuration, Default: DefaultTimeout, Description: `Timeout of one HTTP request, as a duration. Default "10s".`},
	{Name: "retry_for", Type: sdk.TypeDuration, Default: DefaultRetryFor, Description: `How long alerts whose delivery fails (a network error, a 5xx, a 408 or a 429) are retried, counted from when they were raised; then they are dropped, counted and logged at ERROR. Retries back off from 100ms to 1s while the webhook cannot be reached (or a gateway answers 502, 503 or 504 for it), to 10s while it answers another error status. "0" retries nothing. Default "1h".`},
	{Name: "spool", Type: sdk.TypeString, Description: `The folder where alerts wait for their delivery, relative to the configuration's folder; one per sink. Default ".prox/webhook/" followed by 16 hex digits of the SHA-256 of url.`},
	{Name: "spool_max_alerts", Type: sdk.TypeInteger, Default: DefaultSpoolMaxAlerts, Description: "How many alerts the spool holds; the alerts of a batch that find it full are dropped, counted and logged at ERROR. Default 1000."},
	{Name: "max_retries", Type: sdk.TypeNumber, Description: "Ignored (a warning says so): a failed delivery is retried for retry_for."},
	{Name: "context_lines", Type: sdk.TypeInteger, Default: DefaultContextLines, Description: "How many of the process's last log lines an event alert carries. Default 20."},
}}

// rawConfig is the block's values as the host delivers them, with the
// schema's defaults; absent optional attributes are null.
type rawConfig struct {
	URL          *string           `json:"url"`
	Format       *string           `json:"format"`
	Match        *string           `json:"match"`
	Events       []string          `json:"events"`
	Cooldown     time.Duration     `json:"cooldown"`
	Secret       *string           `json:"secret"`
	Headers      map[string]string `json:"headers"`
	Timeout      time.Duration     `json:"timeout"`
	RetryFor     time.Duration     `json:"retry_for"`
	Spool        *string           `json:"spool"`
	SpoolMax     int64             `json:"spool_max_alerts"`
	MaxRetries   *float64          `json:"max_retries"`
	ContextLines int64             `json:"context_lines"`
}

// config is the validated configuration with its defaults applied.
type config struct {
	url *url.URL
	// endpoint is the URL without user info, path or query: safe to log.
	endpoint string
	format   string
	match    *regexp.Regexp
	events   map[string]bool
	cooldown time.Duration
	secret   []byte
	headers  map[string]string
	timeout  time.Duration
	retryFor time.Duration
	// spool is the spool's folder; spoolSet says it was configured (not
	// the default).
	spool        string
	spoolSet     bool
	spoolMax     int
	contextLines int
	// ignored names the attributes set but ignored (max_retries).
	ignored []string
}

// parseConfig decodes and validates the values of the block; it reports
// every problem at once, each attribute's as an sdk.AttributeError. Its
// errors never contain the secret or header values; a URL error names only
// its scheme, as the URL itself may carry a token.
func parseConfig(c *sdk.Config) (*config, error) {
	// The SDK has put the defaults in; so does a direct call.
	values, err := schema.ApplyDefaults(c.Values)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	// Decode's errors name types, never values.
	if err := (&sdk.Config{Values: values}).Decode(&raw); err != nil {
		return nil, err
	}
	cfg := &config{
		format:       FormatJSON,
		cooldown:     DefaultCooldown,
		timeout:      DefaultTimeout,
		retryFor:     DefaultRetryFor,
		spoolMax:     DefaultSpoolMaxAlerts,
		contextLines: DefaultContextLines,
	}
	var problems []error
	check := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	cfg.url, err = alerting.ParseURL("url", raw.URL)
	check(err)
	if cfg.url != nil {
		cfg.endpoint = alerting.Endpoint(cfg.url)
		cfg.spool = defaultSpool(cfg.url)
	}
	if raw.Format != nil {
		switch f := strings.ToLower(*raw.Format); f {
		case FormatJSON, FormatSlack, FormatAlertmanager:
			cfg.format = f
		default:
			check(sdk.AttributeErrorf("format", "must be %q, %q or %q; got %q", FormatJSON, FormatSlack, FormatAlertmanager, *raw.Format))
		}
	}
	triggers, err := alerting.ParseTriggers(raw.Match, raw.Events)
	check(err)
	cfg.match, cfg.events = triggers.Match, triggers.Events
	cfg.cooldown, err = alerting.Positive("cooldown", raw.Cooldown, true)
	check(err)
	cfg.timeout, err = alerting.Positive("timeout", raw.Timeout, false)
	check(err)
	if raw.Secret != nil && *raw.Secret != "" {
		cfg.secret = []byte(*raw.Secret)
	}
	check(alerting.CheckHeaders(raw.Headers))
	cfg.headers = raw.Headers
	cfg.retryFor, err = alerting.Positive("retry_for", raw.RetryFor, true)
	check(err)
	if raw.Spool != nil {
		if strings.TrimSpace(*raw.Spool) == "" {
			check(sdk.AttributeErrorf("spool", "is empty"))
		} else {
			cfg.spool, cfg.spoolSet = filepath.Clean(*raw.Spool), true
		}
	}
	cfg.spoolMax, err = alerting.InRange("spool_max_alerts", raw.SpoolMax, 1, maxSpoolMaxAlerts)
	check(err)
	if raw.MaxRetries != nil {
		// Its value no longer means anything: a failed delivery is retried
		// for retry_for. Accepted, so that a configuration written for an
		// older prox still starts, and named in a warning by Configure.
		cfg.ignored = append(cfg.ignored, "max_retries")
	}
	cfg.contextLines, err = alerting.InRange("context_lines", raw.ContextLines, 0, 1000)
	check(err)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return cfg, nil
}

// defaultSpool is the spool folder of a sink that does not set one: the
// plugin cannot know its block's name, so the folder is named after the
// URL, hashed (a URL may carry a token). Two sinks of one prox with the
// same url need a spool each; Configure says so.
func defaultSpool(u *url.URL) string {
	sum := sha256.Sum256([]byte(u.String()))
	return filepath.Join(SpoolRoot, hex.EncodeToString(sum[:8]))
}
