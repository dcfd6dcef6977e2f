package alertmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prox-dev/prox/plugins/sink/internal/alerting"
	"github.com/prox-dev/prox/sdk"
)

// Defaults of the optional attributes.
const (
	// DefaultResendInterval is how often a firing alert is sent again:
	// Prometheus's --rules.alert.resend-delay, whose convention
	// Alertmanager's clients follow.
	DefaultResendInterval = time.Minute
	// DefaultCooldown, DefaultTimeout, DefaultRetryFor,
	// DefaultSpoolMaxAlerts and DefaultContextLines are the webhook
	// sink's.
	DefaultCooldown       = 5 * time.Minute
	DefaultTimeout        = 10 * time.Second
	DefaultRetryFor       = time.Hour
	DefaultSpoolMaxAlerts = 1000
	DefaultContextLines   = 20
)

// EndsAtFactor is how many resend intervals a firing alert's endsAt lies
// ahead of each send, as Prometheus does (4 × resend delay): an alert
// that prox stops resending (prox was killed) resolves by itself.
const EndsAtFactor = 4

// SpoolRoot is the folder, relative to the configuration's folder, that
// holds the default spools: SpoolRoot/HASH, HASH naming the sink's urls;
// in it, a spool per Alertmanager.
const SpoolRoot = ".prox/alertmanager"

// APIPath is what is appended to each url: Alertmanager's API v2.
const APIPath = "/api/v2/alerts"

// maxSpoolMaxAlerts bounds spool_max_alerts.
const maxSpoolMaxAlerts = 1_000_000

// labelName is a valid Prometheus label name.
var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// reserved are the labels the sink sets itself.
var reserved = map[string]bool{"alertname": true, "process": true, "host": true}

// schema is the sink's block in prox.hcl.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "urls", Type: sdk.TypeListString, Required: true, Description: `The Alertmanagers' http:// or https:// URLs, e.g. ["http://127.0.0.1:9093"]: every one receives every alert (a cluster), at URL + "/api/v2/alerts".`},
	{Name: "labels", Type: sdk.TypeMapString, Description: "Labels added to every alert, besides alertname, process and host (which they may not set). Default: none."},
	{Name: "match", Type: sdk.TypeString, Description: "A regular expression (RE2 syntax); a log line that matches it raises an alert. Default: none."},
	{Name: "events", Type: sdk.TypeListString, Description: `Process events that raise an alert, by state or type, e.g. ["crashed", "failed"]. Default: ["crashed", "failed"] when match is not set either, none otherwise.`},
	{Name: "cooldown", Type: sdk.TypeDuration, Default: DefaultCooldown, Description: `At most one alert per process and trigger raised within this duration. "0" turns de-duplication off. Default "5m".`},
	{Name: "resend_interval", Type: sdk.TypeDuration, Default: DefaultResendInterval, Description: `How often a firing alert is sent again, with endsAt 4 intervals ahead, as Prometheus does. Default "1m".`},
	{Name: "context_lines", Type: sdk.TypeInteger, Default: DefaultContextLines, Description: "How many of the process's last log lines an event alert carries, in its last_lines annotation. Default 20."},
	{Name: "headers", Type: sdk.TypeMapString, Description: "Extra HTTP headers sent with every request, e.g. an Authorization header. Default: none."},
	{Name: "timeout", Type: sdk.TypeDuration, Default: DefaultTimeout, Description: `Timeout of one HTTP request. Default "10s".`},
	{Name: "retry_for", Type: sdk.TypeDuration, Default: DefaultRetryFor, Description: `How long alerts whose delivery fails (a network error, a 5xx, a 408 or a 429) are retried, per Alertmanager. "0" retries nothing. Default "1h".`},
	{Name: "spool", Type: sdk.TypeString, Description: `The folder where alerts wait for their delivery, relative to the configuration's folder, with a folder per Alertmanager in it; one per sink. Default ".prox/alertmanager/" followed by 16 hex digits of the SHA-256 of urls.`},
	{Name: "spool_max_alerts", Type: sdk.TypeInteger, Default: DefaultSpoolMaxAlerts, Description: "How many alerts each Alertmanager's spool holds. Default 1000."},
}}

// rawConfig is the block's values as the host delivers them.
type rawConfig struct {
	URLs           []string          `json:"urls"`
	Labels         map[string]string `json:"labels"`
	Match          *string           `json:"match"`
	Events         []string          `json:"events"`
	Cooldown       time.Duration     `json:"cooldown"`
	ResendInterval time.Duration     `json:"resend_interval"`
	ContextLines   int64             `json:"context_lines"`
	Headers        map[string]string `json:"headers"`
	Timeout        time.Duration     `json:"timeout"`
	RetryFor       time.Duration     `json:"retry_for"`
	Spool          *string           `json:"spool"`
	SpoolMax       int64             `json:"spool_max_alerts"`
}

// target is one Alertmanager.
type target struct {
	url *url.URL
	// endpoint is scheme://host, safe to log.
	endpoint string
	// spool is its spool's folder.
	spool string
}

// config is the validated configuration with its defaults applied.
type config struct {
	targets  []target
	labels   map[string]string
	triggers alerting.Triggers
	resend   time.Duration
	headers  map[string]string
	timeout  time.Duration
	retryFor time.Duration
	spool    string
	spoolSet bool
	spoolMax int
}

// parseConfig decodes and validates the block's values, reporting every
// problem at once, each as an sdk.AttributeError. Its errors never
// contain header values, and name a URL by its position only.
func parseConfig(c *sdk.Config) (*config, error) {
	values, err := schema.ApplyDefaults(c.Values)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	if err := (&sdk.Config{Values: values}).Decode(&raw); err != nil {
		return nil, err
	}
	cfg := &config{}
	var problems []error
	check := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	if len(raw.URLs) == 0 {
		check(sdk.AttributeErrorf("urls", "name at least one Alertmanager"))
	}
	seen := map[string]bool{}
	for i, s := range raw.URLs {
		u, err := alerting.ParseURL("urls", &s)
		if err != nil {
			var ae *sdk.AttributeError
			if errors.As(err, &ae) {
				err = sdk.AttributeErrorf("urls", "url %d: %w", i+1, ae.Err)
			}
			check(err)
			continue
		}
		u.Path = strings.TrimSuffix(u.Path, "/") + APIPath
		if seen[u.String()] {
			check(sdk.AttributeErrorf("urls", "url %d: named twice", i+1))
			continue
		}
		seen[u.String()] = true
		cfg.targets = append(cfg.targets, target{url: u, endpoint: alerting.Endpoint(u)})
	}
	names := make([]string, 0, len(raw.Labels))
	for k := range raw.Labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		switch {
		case !labelName.MatchString(k) || strings.HasPrefix(k, "__"):
			check(sdk.AttributeErrorf("labels", "%q is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", k))
		case reserved[k]:
			check(sdk.AttributeErrorf("labels", "%q is set by the sink itself", k))
		case raw.Labels[k] == "":
			check(sdk.AttributeErrorf("labels", "the value of %q is empty", k))
		}
	}
	cfg.labels = raw.Labels
	cfg.triggers, err = alerting.ParseTriggers(raw.Match, raw.Events)
	check(err)
	cfg.triggers.Cooldown, err = alerting.Positive("cooldown", raw.Cooldown, true)
	check(err)
	cfg.triggers.ContextLines, err = alerting.InRange("context_lines", raw.ContextLines, 0, 1000)
	check(err)
	cfg.resend, err = alerting.Positive("resend_interval", raw.ResendInterval, false)
	check(err)
	check(alerting.CheckHeaders(raw.Headers))
	cfg.headers = raw.Headers
	cfg.timeout, err = alerting.Positive("timeout", raw.Timeout, false)
	check(err)
	cfg.retryFor, err = alerting.Positive("retry_for", raw.RetryFor, true)
	check(err)
	cfg.spoolMax, err = alerting.InRange("spool_max_alerts", raw.SpoolMax, 1, maxSpoolMaxAlerts)
	check(err)
	cfg.spool = defaultSpool(cfg.targets)
	if raw.Spool != nil {
		if strings.TrimSpace(*raw.Spool) == "" {
			check(sdk.AttributeErrorf("spool", "is empty"))
		} else {
			cfg.spool, cfg.spoolSet = filepath.Clean(*raw.Spool), true
		}
	}
	for i := range cfg.targets {
		cfg.targets[i].spool = filepath.Join(cfg.spool, hash(cfg.targets[i].url.String()))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return cfg, nil
}

// defaultSpool names the sink's spool after its urls, hashed (a URL may
// carry a token).
func defaultSpool(targets []target) string {
	urls := make([]string, len(targets))
	for i, t := range targets {
		urls[i] = t.url.String()
	}
	sort.Strings(urls)
	return filepath.Join(SpoolRoot, hash(strings.Join(urls, "\n")))
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// endpoints describes the targets for logs: their endpoints.
func (c *config) endpoints() string {
	out := make([]string, len(c.targets))
	for i, t := range c.targets {
		out[i] = t.endpoint
	}
	return fmt.Sprint(out)
}
