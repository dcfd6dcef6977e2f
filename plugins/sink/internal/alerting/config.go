package alerting

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// DefaultEvents are the events that trigger alerts when neither match nor
// events is set.
var DefaultEvents = []string{string(sdk.EventCrashed), string(sdk.EventFailed)}

// ParseTriggers checks the `match` and `events` attributes and returns the
// triggers (without Cooldown and ContextLines, which the caller checks
// with Positive and InRange). Without match and events, DefaultEvents
// trigger. Each problem is an sdk.AttributeError.
func ParseTriggers(match *string, events []string) (Triggers, error) {
	var (
		t        Triggers
		problems []error
	)
	matchSet := match != nil && *match != ""
	if matchSet {
		var err error
		if t.Match, err = regexp.Compile(*match); err != nil {
			problems = append(problems, sdk.AttributeErrorf("match", "invalid regular expression: %w", err))
		}
	}
	listed := events
	if listed == nil && !matchSet {
		listed = DefaultEvents
	}
	if len(listed) > 0 {
		t.Events = make(map[string]bool, len(listed))
		for _, e := range listed {
			e = strings.ToLower(strings.TrimSpace(e))
			if e == "" {
				problems = append(problems, sdk.AttributeErrorf("events", "an event name is empty"))
				continue
			}
			t.Events[e] = true
		}
	}
	if !matchSet && len(t.Events) == 0 && events != nil {
		problems = append(problems, sdk.AttributeErrorf("events", "nothing triggers an alert: set match or name an event"))
	}
	return t, errors.Join(problems...)
}

// ParseURL checks the http(s) URL s of attribute attr. Its errors name
// only the scheme, as a URL may carry a token.
func ParseURL(attr string, s *string) (*url.URL, error) {
	if s == nil || strings.TrimSpace(*s) == "" {
		return nil, sdk.AttributeErrorf(attr, "is required")
	}
	if !strings.Contains(*s, "://") {
		// "host:port" would parse with "host" as its scheme, or not at
		// all: a URL without a scheme is told so.
		return nil, sdk.AttributeErrorf(attr, "must start with http:// or https://")
	}
	u, err := url.Parse(strings.TrimSpace(*s))
	if err != nil {
		// url.Parse's error quotes the URL.
		return nil, sdk.AttributeErrorf(attr, "not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return nil, sdk.AttributeErrorf(attr, "must start with http:// or https://")
		}
		return nil, sdk.AttributeErrorf(attr, "must start with http:// or https://; got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, sdk.AttributeErrorf(attr, "has no host")
	}
	return u, nil
}

// Endpoint is u without user info, path or query: safe to log.
func Endpoint(u *url.URL) string { return u.Scheme + "://" + u.Host }

// Positive checks a duration: not negative, and not zero unless zeroOK.
func Positive(name string, d time.Duration, zeroOK bool) (time.Duration, error) {
	if d < 0 || (d == 0 && !zeroOK) {
		return 0, sdk.AttributeErrorf(name, "must be positive; got %q", d)
	}
	return d, nil
}

// InRange checks a whole number against its bounds.
func InRange(name string, n int64, minValue, maxValue int) (int, error) {
	if n < int64(minValue) || n > int64(maxValue) {
		return 0, sdk.AttributeErrorf(name, "must be a whole number from %d to %d; got %v", minValue, maxValue, n)
	}
	return int(n), nil
}

// CheckHeaders validates header names and values without ever quoting a
// value.
func CheckHeaders(h map[string]string) error {
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
