package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/prox-dev/prox/sdk"
)

// Defaults of the optional attributes.
const (
	defaultFormat         = formatRFC5424
	defaultFacility       = "user"
	defaultStdoutSeverity = "info"
	defaultStderrSeverity = "warning"
	defaultConnectTimeout = 5 * time.Second
	defaultMaxQueue       = 10000
)

// Message formats.
const (
	formatRFC5424 = "rfc5424"
	formatRFC3164 = "rfc3164"
)

// Transports, as named by the address's scheme (unix is a datagram socket).
const (
	transportUDP  = "udp"
	transportTCP  = "tcp"
	transportTLS  = "tls"
	transportUnix = "unix"
)

// schema is the sink's config block.
var schema = &sdk.Schema{Attributes: []sdk.Attribute{
	{Name: "address", Type: sdk.TypeString, Required: true,
		Description: "Syslog server: udp://host:port, tcp://host:port, tls://host:port or unix:///path (a datagram socket such as /dev/log). Required."},
	{Name: "format", Type: sdk.TypeString,
		Description: `Message format: "rfc5424" or "rfc3164". Default "rfc5424".`},
	{Name: "facility", Type: sdk.TypeString,
		Description: `Facility name: kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security, console, clock, local0 to local7. Default "user".`},
	{Name: "stdout_severity", Type: sdk.TypeString,
		Description: `Severity of standard output lines: emerg, alert, crit, err, warning, notice, info or debug. Default "info".`},
	{Name: "stderr_severity", Type: sdk.TypeString,
		Description: `Severity of standard error lines (same names as stdout_severity). Default "warning".`},
	{Name: "hostname", Type: sdk.TypeString,
		Description: "HOSTNAME field of the messages. Default: the machine's host name."},
	{Name: "tls_ca_file", Type: sdk.TypeString,
		Description: "PEM file of the certificate authorities that sign the server's certificate (tls:// only). Default: the system's roots."},
	{Name: "tls_insecure_skip_verify", Type: sdk.TypeBool,
		Description: "Accept any server certificate (tls:// only; for tests). Default false."},
	{Name: "tls_server_name", Type: sdk.TypeString,
		Description: "Name the server's certificate must carry (tls:// only). Default: the address's host."},
	{Name: "connect_timeout", Type: sdk.TypeDuration, Default: defaultConnectTimeout,
		Description: `Bound on connecting (TLS handshake included); a Write that cannot deliver waits at most three times this long. Default "5s".`},
	{Name: "max_queue", Type: sdk.TypeInteger, Default: defaultMaxQueue,
		Description: "Entries kept, in order, while the server is unreachable; 0 keeps none (Write fails instead). Default 10000."},
}}

// rawConfig is the block's values as the host sends them, with the
// schema's defaults: absent optional attributes are null.
type rawConfig struct {
	Address               *string       `json:"address"`
	Format                *string       `json:"format"`
	Facility              *string       `json:"facility"`
	StdoutSeverity        *string       `json:"stdout_severity"`
	StderrSeverity        *string       `json:"stderr_severity"`
	Hostname              *string       `json:"hostname"`
	TLSCAFile             *string       `json:"tls_ca_file"`
	TLSInsecureSkipVerify *bool         `json:"tls_insecure_skip_verify"`
	TLSServerName         *string       `json:"tls_server_name"`
	ConnectTimeout        time.Duration `json:"connect_timeout"`
	MaxQueue              int64         `json:"max_queue"`
}

// config is the validated configuration.
type config struct {
	// address is the address as configured, for messages.
	address string
	// transport is one of the transport constants.
	transport string
	// dialAddr is host:port, or the socket's path for unix.
	dialAddr       string
	format         string
	facility       int
	stdoutSeverity int
	stderrSeverity int
	hostname       string
	// tls is set for the tls transport.
	tls            *tls.Config
	connectTimeout time.Duration
	maxQueue       int
}

// deliverTimeout bounds how long a Write or a Flush waits for the server.
func (c *config) deliverTimeout() time.Duration { return 3 * c.connectTimeout }

// parseConfig validates the values and applies the defaults; it reports
// every problem at once, each attribute's as an sdk.AttributeError.
func parseConfig(cfg *sdk.Config) (*config, error) {
	// The SDK has put the defaults in; so does a direct call.
	values, err := schema.ApplyDefaults(cfg.Values)
	if err != nil {
		return nil, err
	}
	var raw rawConfig
	if err := (&sdk.Config{Values: values}).Decode(&raw); err != nil {
		return nil, err
	}
	c := &config{}
	var problems []error
	check := func(err error) {
		if err != nil {
			problems = append(problems, err)
		}
	}
	if raw.Address == nil || *raw.Address == "" {
		check(sdk.AttributeErrorf("address", "is required"))
	} else {
		check(c.parseAddress(*raw.Address))
	}

	c.format = str(raw.Format, defaultFormat)
	if c.format != formatRFC5424 && c.format != formatRFC3164 {
		check(sdk.AttributeErrorf("format", "must be %q or %q; got %q", formatRFC5424, formatRFC3164, c.format))
	}
	c.facility, err = lookupName("facility", str(raw.Facility, defaultFacility), facilities)
	check(err)
	c.stdoutSeverity, err = lookupName("stdout_severity", str(raw.StdoutSeverity, defaultStdoutSeverity), severities)
	check(err)
	c.stderrSeverity, err = lookupName("stderr_severity", str(raw.StderrSeverity, defaultStderrSeverity), severities)
	check(err)

	host := str(raw.Hostname, "")
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			check(sdk.AttributeErrorf("hostname", "not set, and the system's: %w", err))
		}
	}
	c.hostname = headerField(host, maxHostname, false)

	if d := raw.ConnectTimeout; d <= 0 {
		check(sdk.AttributeErrorf("connect_timeout", "must be positive; got %q", d))
	} else {
		c.connectTimeout = d
	}

	if q := raw.MaxQueue; q < 0 || q > math.MaxInt32 {
		check(sdk.AttributeErrorf("max_queue", "must be a whole number from 0; got %v", q))
	} else {
		c.maxQueue = int(q)
	}

	if c.transport != "" || raw.Address == nil || *raw.Address == "" {
		// The TLS settings depend on the transport: checked only once the
		// address is known good (or absent).
		check(c.parseTLS(&raw))
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return c, nil
}

// parseAddress sets address, transport and dialAddr.
func (c *config) parseAddress(address string) error {
	c.address = address
	u, err := url.Parse(address)
	if err != nil {
		return sdk.AttributeErrorf("address", "%q: %w", address, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return sdk.AttributeErrorf("address", "%q: only scheme, host and port (or a unix path) are allowed", address)
	}
	switch u.Scheme {
	case transportUDP, transportTCP, transportTLS:
		if u.Path != "" {
			return sdk.AttributeErrorf("address", "%q: a %s address has no path", address, u.Scheme)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" {
			return sdk.AttributeErrorf("address", "%q: want %s://host:port", address, u.Scheme)
		}
		c.dialAddr = u.Host
	case transportUnix:
		if u.Host != "" || u.Path == "" {
			return sdk.AttributeErrorf("address", "%q: want unix:///absolute/path", address)
		}
		c.dialAddr = u.Path
	default:
		return sdk.AttributeErrorf("address", "%q: scheme must be udp, tcp, tls or unix", address)
	}
	c.transport = u.Scheme
	return nil
}

// parseTLS sets tls for a tls:// address and rejects TLS settings for the
// other transports.
func (c *config) parseTLS(raw *rawConfig) error {
	if c.transport != transportTLS {
		for _, a := range []struct {
			name string
			set  bool
		}{
			{"tls_ca_file", raw.TLSCAFile != nil},
			{"tls_insecure_skip_verify", raw.TLSInsecureSkipVerify != nil},
			{"tls_server_name", raw.TLSServerName != nil},
		} {
			if a.set {
				return sdk.AttributeErrorf(a.name, "only valid with a tls:// address")
			}
		}
		return nil
	}
	host, _, _ := net.SplitHostPort(c.dialAddr)
	t := &tls.Config{
		ServerName: str(raw.TLSServerName, host),
		MinVersion: tls.VersionTLS12,
	}
	if raw.TLSInsecureSkipVerify != nil {
		t.InsecureSkipVerify = *raw.TLSInsecureSkipVerify
	}
	if f := str(raw.TLSCAFile, ""); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return sdk.AttributeErrorf("tls_ca_file", "%w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return sdk.AttributeErrorf("tls_ca_file", "%s: no PEM certificate found", f)
		}
		t.RootCAs = pool
	}
	c.tls = t
	return nil
}

// str returns *p, or def when p is nil.
func str(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}
