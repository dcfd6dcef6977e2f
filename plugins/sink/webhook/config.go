package webhook

import (
	"errors"
	"math"
	"net/url"
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
	// DefaultMaxRetries is the default max_retries.
	DefaultMaxRetries = 5
	// DefaultContextLines is the default context_lines.
	DefaultContextLines = 20
)

// defaultEvents are the events that trigger alerts when neither match nor
// events is set.
var defaultEvents = []string{"crashed", "failed"}

// schema is the sink's block in prox.hcl.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "url", Type: sdk.TypeString, Required: true, Description: "The http:// or https:// URL alerts are POSTed to."},
	{Name: "format", Type: sdk.TypeString, Description: `The payload: "json" (prox's own), "slack" (an incoming-webhook message) or "alertmanager" (Alertmanager's webhook payload, version 4). Default "json".`},
	{Name: "match", Type: sdk.TypeString, Description: "A regular expression (RE2 syntax); a log line that matches it raises an alert. Default: none."},
	{Name: "events", Type: sdk.TypeListString, Description: `Process events that raise an alert, by state or type, e.g. ["crashed", "failed"]. Default: ["crashed", "failed"] when match is not set either, none otherwise.`},
	{Name: "cooldown", Type: sdk.TypeString, Description: `At most one alert per process and trigger within this duration; repeats are counted and reported with the next alert. "0" turns de-duplication off. Default "5m".`},
	{Name: "secret", Type: sdk.TypeString, Description: `Signs each request: header X-Prox-Signature is "sha256=" and the hex HMAC-SHA256 of the body with this key. Default: none (unsigned).`},
	{Name: "headers", Type: sdk.TypeMapString, Description: "Extra HTTP headers sent with every request, e.g. an Authorization header. Default: none."},
	{Name: "timeout", Type: sdk.TypeString, Description: `Timeout of one HTTP request, as a duration. Default "10s".`},
	{Name: "max_retries", Type: sdk.TypeNumber, Description: "How many times a request that failed with a network error, a 5xx or a 429 is retried (exponential backoff from 200ms to 10s, with jitter) before its alerts are dropped. Default 5."},
	{Name: "context_lines", Type: sdk.TypeNumber, Description: "How many of the process's last log lines an event alert carries. Default 20."},
}}

// rawConfig is the block's values as the host delivers them; absent
// optional attributes are null.
type rawConfig struct {
	URL          *string           `json:"url"`
	Format       *string           `json:"format"`
	Match        *string           `json:"match"`
	Events       []string          `json:"events"`
	Cooldown     *string           `json:"cooldown"`
	Secret       *string           `json:"secret"`
	Headers      map[string]string `json:"headers"`
	Timeout      *string           `json:"timeout"`
	MaxRetries   *float64          `json:"max_retries"`
	ContextLines *float64          `json:"context_lines"`
}

// config is the validated configuration with its defaults applied.
type config struct {
	url *url.URL
	// endpoint is the URL without user info, path or query: safe to log.
	endpoint     string
	format       string
	match        *regexp.Regexp
	events       map[string]bool
	cooldown     time.Duration
	secret       []byte
	headers      map[string]string
	timeout      time.Duration
	maxRetries   int
	contextLines int
}

// parseConfig decodes and validates the values of the block; it reports
// every problem at once, each attribute's as an sdk.AttributeError. Its
// errors never contain the secret or header values; a URL error names only
// its scheme, as the URL itself may carry a token.
func parseConfig(c *sdk.Config) (*config, error) {
	var raw rawConfig
	// Decode's errors name types, never values.
	if err := c.Decode(&raw); err != nil {
		return nil, err
	}
	cfg := &config{
		format:       FormatJSON,
		cooldown:     DefaultCooldown,
		timeout:      DefaultTimeout,
		maxRetries:   DefaultMaxRetries,
		contextLines: DefaultContextLines,
	}
	var problems []error
	check := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	var err error
	cfg.url, err = parseURL(raw.URL)
	check(err)
	if cfg.url != nil {
		cfg.endpoint = cfg.url.Scheme + "://" + cfg.url.Host
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
	cfg.cooldown, err = parseDuration("cooldown", raw.Cooldown, DefaultCooldown, true)
	check(err)
	cfg.timeout, err = parseDuration("timeout", raw.Timeout, DefaultTimeout, false)
	check(err)
	if raw.Secret != nil && *raw.Secret != "" {
		cfg.secret = []byte(*raw.Secret)
	}
	check(checkHeaders(raw.Headers))
	cfg.headers = raw.Headers
	cfg.maxRetries, err = wholeNumber("max_retries", raw.MaxRetries, DefaultMaxRetries, 100)
	check(err)
	cfg.contextLines, err = wholeNumber("context_lines", raw.ContextLines, DefaultContextLines, 1000)
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

func parseDuration(name string, s *string, def time.Duration, zeroOK bool) (time.Duration, error) {
	if s == nil || *s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(*s)
	if err != nil {
		return 0, sdk.AttributeErrorf(name, "%w", err)
	}
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, sdk.AttributeErrorf(name, "must be positive; got %q", *s)
	}
	return d, nil
}

func wholeNumber(name string, v *float64, def, maxValue int) (int, error) {
	if v == nil {
		return def, nil
	}
	n := *v
	if n < 0 || n != math.Trunc(n) || n > float64(maxValue) {
		return 0, sdk.AttributeErrorf(name, "must be a whole number from 0 to %d; got %v", maxValue, n)
	}
	return int(n), nil
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
