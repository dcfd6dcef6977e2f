package syslog

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	{Name: "connect_timeout", Type: sdk.TypeString,
		Description: `Bound on connecting (TLS handshake included); a Write that cannot deliver waits at most three times this long. Default "5s".`},
	{Name: "max_queue", Type: sdk.TypeNumber,
		Description: "Entries kept, in order, while the server is unreachable; 0 keeps none (Write fails instead). Default 10000."},
}}

// rawConfig is the block's values as the host sends them: absent optional
// attributes are null.
type rawConfig struct {
	Address               *string  `json:"address"`
	Format                *string  `json:"format"`
	Facility              *string  `json:"facility"`
	StdoutSeverity        *string  `json:"stdout_severity"`
	StderrSeverity        *string  `json:"stderr_severity"`
	Hostname              *string  `json:"hostname"`
	TLSCAFile             *string  `json:"tls_ca_file"`
	TLSInsecureSkipVerify *bool    `json:"tls_insecure_skip_verify"`
	TLSServerName         *string  `json:"tls_server_name"`
	ConnectTimeout        *string  `json:"connect_timeout"`
	MaxQueue              *float64 `json:"max_queue"`
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

// parseConfig validates the values and applies the defaults.
func parseConfig(cfg *sdk.Config) (*config, error) {
	var raw rawConfig
	if err := cfg.Decode(&raw); err != nil {
		return nil, err
	}
	c := &config{}
	if raw.Address == nil || *raw.Address == "" {
		return nil, errors.New("address is required")
	}
	if err := c.parseAddress(*raw.Address); err != nil {
		return nil, err
	}

	c.format = str(raw.Format, defaultFormat)
	if c.format != formatRFC5424 && c.format != formatRFC3164 {
		return nil, fmt.Errorf("format %q: must be %q or %q", c.format, formatRFC5424, formatRFC3164)
	}
	var err error
	if c.facility, err = lookupName("facility", str(raw.Facility, defaultFacility), facilities); err != nil {
		return nil, err
	}
	if c.stdoutSeverity, err = lookupName("stdout_severity", str(raw.StdoutSeverity, defaultStdoutSeverity), severities); err != nil {
		return nil, err
	}
	if c.stderrSeverity, err = lookupName("stderr_severity", str(raw.StderrSeverity, defaultStderrSeverity), severities); err != nil {
		return nil, err
	}

	host := str(raw.Hostname, "")
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("hostname: %w", err)
		}
	}
	c.hostname = headerField(host, maxHostname, false)

	c.connectTimeout = defaultConnectTimeout
	if raw.ConnectTimeout != nil {
		d, err := time.ParseDuration(*raw.ConnectTimeout)
		if err != nil {
			return nil, fmt.Errorf("connect_timeout: %w", err)
		}
		if d <= 0 {
			return nil, fmt.Errorf("connect_timeout %q: must be positive", *raw.ConnectTimeout)
		}
		c.connectTimeout = d
	}

	c.maxQueue = defaultMaxQueue
	if raw.MaxQueue != nil {
		q := *raw.MaxQueue
		if q < 0 || q != math.Trunc(q) || q > math.MaxInt32 {
			return nil, fmt.Errorf("max_queue %v: must be a whole number from 0", q)
		}
		c.maxQueue = int(q)
	}

	if err := c.parseTLS(&raw); err != nil {
		return nil, err
	}
	return c, nil
}

// parseAddress sets address, transport and dialAddr.
func (c *config) parseAddress(address string) error {
	c.address = address
	u, err := url.Parse(address)
	if err != nil {
		return fmt.Errorf("address %q: %w", address, err)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("address %q: only scheme, host and port (or a unix path) are allowed", address)
	}
	switch u.Scheme {
	case transportUDP, transportTCP, transportTLS:
		if u.Path != "" {
			return fmt.Errorf("address %q: a %s address has no path", address, u.Scheme)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("address %q: want %s://host:port", address, u.Scheme)
		}
		c.dialAddr = u.Host
	case transportUnix:
		if u.Host != "" || u.Path == "" {
			return fmt.Errorf("address %q: want unix:///absolute/path", address)
		}
		c.dialAddr = u.Path
	default:
		return fmt.Errorf("address %q: scheme must be udp, tcp, tls or unix", address)
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
				return fmt.Errorf("%s: only valid with a tls:// address", a.name)
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
			return fmt.Errorf("tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("tls_ca_file %s: no PEM certificate found", f)
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
