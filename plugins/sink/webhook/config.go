package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

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

// defaultEvents are the events that trigger alerts when neither match nor
// events is set.
var defaultEvents = []string{string(sdk.EventCrashed), string(sdk.EventFailed)}

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
	{Name: "retry_for", Type: sdk.TypeDuration, Default: DefaultRetryFor, Description: `How long alerts whose delivery fails (a network error, a 5xx, a 408 or a 429) are retried, counted from when they were raised; then they are dropped, counted and logged at ERROR. Retries back off from 100ms to 1s while the webhook cannot be reached, to 10s while it answers an error status. "0" retries nothing. Default "1h".`},
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
	cfg.url, err = parseURL(raw.URL)
	check(err)
	if cfg.url != nil {
		cfg.endpoint = cfg.url.Scheme + "://" + cfg.url.Host
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
	matchSet := raw.Match != nil && *raw.Match != ""
	if matchSet {
		if cfg.match, err = regexp.Compile(*raw.Match); err != nil {
			check(sdk.AttributeErrorf("match", "invalid regular expression: %w", err))
		}
	}
	events := raw.Events
	if events == nil && !matchSet {
		events = defaultEvents
	}
	if len(events) > 0 {
		cfg.events = make(map[string]bool, len(events))
		for _, e := range events {
			e = strings.ToLower(strings.TrimSpace(e))
			if e == "" {
				check(sdk.AttributeErrorf("events", "an event name is empty"))
				continue
			}
			cfg.events[e] = true
		}
	}
	if !matchSet && len(cfg.events) == 0 && raw.Events != nil {
		check(sdk.AttributeErrorf("events", "nothing triggers an alert: set match or name an event"))
	}
	cfg.cooldown, err = positive("cooldown", raw.Cooldown, true)
	check(err)
	cfg.timeout, err = positive("timeout", raw.Timeout, false)
	check(err)
	if raw.Secret != nil && *raw.Secret != "" {
		cfg.secret = []byte(*raw.Secret)
	}
	check(checkHeaders(raw.Headers))
	cfg.headers = raw.Headers
	cfg.retryFor, err = positive("retry_for", raw.RetryFor, true)
	check(err)
	if raw.Spool != nil {
		if strings.TrimSpace(*raw.Spool) == "" {
			check(sdk.AttributeErrorf("spool", "is empty"))
		} else {
			cfg.spool, cfg.spoolSet = filepath.Clean(*raw.Spool), true
		}
	}
	cfg.spoolMax, err = inRange("spool_max_alerts", raw.SpoolMax, 1, maxSpoolMaxAlerts)
	check(err)
	if raw.MaxRetries != nil {
		// Its value no longer means anything: a failed delivery is retried
		// for retry_for. Accepted, so that a configuration written for an
		// older prox still starts, and named in a warning by Configure.
		cfg.ignored = append(cfg.ignored, "max_retries")
	}
	cfg.contextLines, err = inRange("context_lines", raw.ContextLines, 0, 1000)
	check(err)
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return cfg, nil
}

func parseURL(s *string) (*url.URL, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, sdk.AttributeErrorf("url", "is required")
	}
	u, err := url.Parse(strings.TrimSpace(*s))
	if err != nil {
		// url.Parse's error quotes the URL.
		return nil, sdk.AttributeErrorf("url", "not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return nil, sdk.AttributeErrorf("url", "must start with http:// or https://")
		}
		return nil, sdk.AttributeErrorf("url", "must start with http:// or https://; got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, sdk.AttributeErrorf("url", "has no host")
	}
	return u, nil
}

// positive checks a duration: not negative, and not zero unless zeroOK.
func positive(name string, d time.Duration, zeroOK bool) (time.Duration, error) {
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, sdk.AttributeErrorf(name, "must be positive; got %q", d)
	}
	return d, nil
}

// inRange checks a whole number against its bounds.
func inRange(name string, n int64, minValue, maxValue int) (int, error) {
	if n < int64(minValue) || n > int64(maxValue) {
		return 0, sdk.AttributeErrorf(name, "must be a whole number from %d to %d; got %v", minValue, maxValue, n)
	}
	return int(n), nil
}

// defaultSpool is the spool folder of a sink that does not set one: the
// plugin cannot know its block's name, so the folder is named after the
// URL, hashed (a URL may carry a token). Two sinks of one prox with the
// same url need a spool each; Configure says so.
func defaultSpool(u *url.URL) string {
	sum := sha256.Sum256([]byte(u.String()))
	return filepath.Join(SpoolRoot, hex.EncodeToString(sum[:8]))
}

// checkHeaders validates header names and values without ever quoting a
// value.
func checkHeaders(h map[string]string) error {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == "" || strings.IndexFunc(k, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
			return sdk.AttributeErrorf("headers", "invalid header name %q", k)
		}
		if strings.ContainsAny(h[k], "\r\n\x00") {
			return sdk.AttributeErrorf("headers", "the value of %q contains a line break or NUL", k)
		}
	}
	return nil
}

// isTokenChar reports whether r may appear in an HTTP header name
// (RFC 9110 token).
func isTokenChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`|~", r)
}
