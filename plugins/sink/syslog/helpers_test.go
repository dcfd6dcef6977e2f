package syslog

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/require"
)

const (
	waitFor = 15 * time.Second
	tick    = 20 * time.Millisecond
)

// need skips the test when something it needs is missing, or fails it
// under CI=true, where nothing may be skipped silently.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", what)
	}
	t.Skip(what)
}

// rsyslogdPath finds rsyslogd, which may be outside a non-root PATH.
func rsyslogdPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("rsyslogd")
	if err != nil {
		p = "/usr/sbin/rsyslogd"
		_, err = os.Stat(p)
	}
	need(t, err == nil, "rsyslogd not found: install the Debian package rsyslog")
	return p
}

// hasOpenSSLDriver reports whether rsyslog's OpenSSL stream driver (Debian
// rsyslog-openssl) is installed.
func hasOpenSSLDriver() bool {
	for _, pattern := range []string{"/usr/lib/*/rsyslog/lmnsd_ossl.so", "/usr/lib/rsyslog/lmnsd_ossl.so", "/usr/lib64/rsyslog/lmnsd_ossl.so"} {
		if m, _ := filepath.Glob(pattern); len(m) > 0 {
			return true
		}
	}
	return false
}

// tlsFiles are a self-signed certificate for 127.0.0.1 and its key.
type tlsFiles struct {
	cert, key string
}

// newTLSFiles writes a self-signed ECDSA P-256 certificate for the IP
// 127.0.0.1, which is its own certificate authority.
func newTLSFiles(t *testing.T) tlsFiles {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "prox syslog test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	f := tlsFiles{cert: filepath.Join(dir, "cert.pem"), key: filepath.Join(dir, "key.pem")}
	require.NoError(t, os.WriteFile(f.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(f.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600))
	return f
}

// freePort returns a port free for both TCP and UDP on 127.0.0.1.
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := l.Addr().(*net.TCPAddr).Port
		u, uerr := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		require.NoError(t, l.Close())
		if uerr == nil {
			require.NoError(t, u.Close())
			return port
		}
	}
	t.Fatal("no port free for both TCP and UDP")
	return 0
}

// rsyslogd is a private rsyslogd: UDP and TCP (or TLS) inputs on
// 127.0.0.1:port, a unix datagram socket parsing RFC 5424, and every
// message written to a file through a template that shows its fields.
type rsyslogd struct {
	t      *testing.T
	bin    string
	dir    string
	conf   string
	out    string
	port   int
	socket string
	tls    bool
	cmd    *exec.Cmd
	exited chan struct{}
}

// outTemplate separates the fields with '|'; msg comes last, whole.
const outTemplate = `%inputname%|%pri%|%protocol-version%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\n`

// startRsyslogd starts a private rsyslogd and stops it in t.Cleanup. With
// tlsCert set, its TCP input speaks TLS (RFC 5425) with that certificate.
func startRsyslogd(t *testing.T, tlsCert *tlsFiles) *rsyslogd {
	t.Helper()
	bin := rsyslogdPath(t)
	if tlsCert != nil {
		need(t, hasOpenSSLDriver(), "rsyslog's OpenSSL driver not found: install the Debian package rsyslog-openssl")
	}
	dir := t.TempDir()
	r := &rsyslogd{
		t:      t,
		bin:    bin,
		dir:    dir,
		conf:   filepath.Join(dir, "rsyslog.conf"),
		out:    filepath.Join(dir, "out.log"),
		port:   freePort(t),
		socket: filepath.Join(dir, "log.sock"),
		tls:    tlsCert != nil,
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "work"), 0o755))

	global := fmt.Sprintf(`workDirectory=%q maxMessageSize="128k"`, filepath.Join(dir, "work"))
	tcpModule := `module(load="imtcp")`
	if tlsCert != nil {
		global += fmt.Sprintf(` DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q`,
			tlsCert.cert, tlsCert.cert, tlsCert.key)
		tcpModule = `module(load="imtcp" StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")`
	}
	conf := fmt.Sprintf(`global(%s)
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket=%q UseSpecialParser="off" ParseHostname="on")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="%d")
%s
input(type="imtcp" address="127.0.0.1" port="%d")
template(name="test" type="string" string="%s")
*.* action(type="omfile" file=%q template="test")
`, global, r.socket, r.port, tcpModule, r.port, outTemplate, r.out)
	require.NoError(t, os.WriteFile(r.conf, []byte(conf), 0o644))
	out, err := exec.Command(bin, "-N1", "-f", r.conf).CombinedOutput()
	require.NoError(t, err, "rsyslogd -N1 rejects the config:\n%s\n%s", out, conf)

	t.Cleanup(func() {
		if r.running() {
			r.stop()
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.log"))
			outLog, _ := os.ReadFile(r.out)
			t.Logf("rsyslogd output:\n%s\nreceived (last 4 KiB):\n%s", log, tail(outLog, 4096))
		}
	})
	r.start()
	return r
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start (re)starts rsyslogd on the same port and files, and waits until
// its TCP port accepts connections and its unix socket exists.
func (r *rsyslogd) start() {
	t := r.t
	t.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer log.Close()
	_ = os.Remove(r.socket)
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = rsyslogdSysProcAttr()
	require.NoError(t, cmd.Start())
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	require.Eventually(t, func() bool {
		if !r.running() {
			return false
		}
		c, err := net.DialTimeout("tcp", r.tcpAddr(), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		_, err = os.Stat(r.socket)
		return err == nil
	}, waitFor, tick, "rsyslogd did not listen on %s", r.tcpAddr())
}

// running reports whether the started rsyslogd has not exited.
func (r *rsyslogd) running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// stop terminates rsyslogd (SIGTERM, SIGKILL after the deadline) and waits
// until it has exited: its sockets are closed then.
func (r *rsyslogd) stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(waitFor):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

func (r *rsyslogd) tcpAddr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *rsyslogd) address(scheme string) string {
	if scheme == "unix" {
		return "unix://" + r.socket
	}
	return scheme + "://" + r.tcpAddr()
}

// record is one message as rsyslogd parsed it.
type record struct {
	input, pri, version, time, host, app, msgid, sd, msg string
}

// records returns the messages received so far from app.
func (r *rsyslogd) records(app string) []record {
	data, err := os.ReadFile(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(r.t, err)
	var out []record
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := strings.SplitN(string(line), "|", 9)
		if len(f) < 9 || f[5] != app {
			continue
		}
		out = append(out, record{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]})
	}
	return out
}

// waitRecords waits until at least n messages from app have arrived and
// returns them.
func (r *rsyslogd) waitRecords(app string, n int) []record {
	r.t.Helper()
	var got []record
	require.Eventually(r.t, func() bool {
		got = r.records(app)
		return len(got) >= n
	}, waitFor, tick, "want %d messages from %q", n, app)
	return got
}

// configValues builds the JSON values the host sends: every attribute of
// the schema present, null unless set, a duration (written as in HCL) in
// nanoseconds. A missing required attribute goes through too.
func configValues(t *testing.T, set map[string]any) *sdk.Config {
	t.Helper()
	values := map[string]any{}
	types := map[string]string{}
	for _, a := range schema.Attributes {
		values[a.Name] = nil
		types[a.Name] = a.Type
	}
	for k, v := range set {
		_, ok := values[k]
		require.True(t, ok, "attribute %q is not in the schema", k)
		if s, isString := v.(string); isString && types[k] == sdk.TypeDuration {
			d, err := time.ParseDuration(s)
			require.NoError(t, err, "the host refuses %s = %q", k, s)
			v = int64(d)
		}
		values[k] = v
	}
	b, err := json.Marshal(values)
	require.NoError(t, err)
	return &sdk.Config{APIVersion: 1, Values: b}
}

// newSink configures a sink with set and closes it in t.Cleanup.
func newSink(t *testing.T, set map[string]any) *Sink {
	t.Helper()
	s := testSink(t)
	require.NoError(t, s.Configure(configValues(t, set)))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

// testSink returns a new sink that logs through the test.
func testSink(t *testing.T) *Sink {
	s := New()
	s.log = hclog.New(&hclog.LoggerOptions{Name: Name, Output: testWriter{t}, Level: hclog.Debug})
	return s
}

// testWriter writes log lines with t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// lines makes a batch of stdout lines prefix-N for N in [from, to).
func lines(process, prefix string, from, to int) *sdk.Batch {
	b := &sdk.Batch{}
	now := time.Now()
	for i := from; i < to; i++ {
		b.Entries = append(b.Entries, sdk.LogEntry{
			Timestamp: now, Process: process, Stream: sdk.Stdout,
			Line: fmt.Appendf(nil, "%s-%05d", prefix, i),
		})
	}
	return b
}

// within runs f and returns its error, failing the test if f has not
// returned after waitFor: a hang is a failure, not a test timeout.
func within(t *testing.T, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatalf("call did not return within %s", waitFor)
		return nil
	}
}

// hostname is the HOSTNAME the sink sends by default.
func hostname(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	require.NoError(t, err)
	return headerField(h, maxHostname, false)
}

// msgs returns the msg field of each record.
func msgs(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.msg
	}
	return out
}

// lineTexts returns the lines of b as strings.
func lineTexts(b *sdk.Batch) []string {
	out := make([]string, len(b.Entries))
	for i, e := range b.Entries {
		out[i] = string(e.Line)
	}
	return out
}
