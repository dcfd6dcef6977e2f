package testservers

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
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

	"github.com/stretchr/testify/require"
)

// rsyslogdPath finds rsyslogd, which may be outside a non-root PATH.
func rsyslogdPath(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("rsyslogd")
	if err != nil {
		p = "/usr/sbin/rsyslogd"
		if _, err = os.Stat(p); err != nil {
			Missing(tb, "rsyslogd not found: install the Debian package rsyslog")
		}
	}
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

// TLSFiles are a self-signed certificate for 127.0.0.1 and its key.
type TLSFiles struct {
	// Cert is the certificate's PEM file; it is its own authority.
	Cert string
	// Key is the private key's PEM file.
	Key string
}

// NewTLSFiles writes a self-signed ECDSA P-256 certificate for the IP
// 127.0.0.1, which is its own certificate authority.
func NewTLSFiles(tb testing.TB) TLSFiles {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(tb, err)
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
	require.NoError(tb, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(tb, err)
	dir := tb.TempDir()
	f := TLSFiles{Cert: filepath.Join(dir, "cert.pem"), Key: filepath.Join(dir, "key.pem")}
	require.NoError(tb, os.WriteFile(f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(tb, os.WriteFile(f.Key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600))
	return f
}

// Rsyslogd is a private rsyslogd: UDP and TCP (or TLS) inputs on
// 127.0.0.1:Port, a unix datagram socket parsing RFC 5424, and every
// message written to a file through a template that shows its fields
// (Records).
type Rsyslogd struct {
	// Port is the UDP and TCP (or TLS) inputs' port on 127.0.0.1.
	Port int
	// Socket is the unix datagram socket's path.
	Socket string

	tb     testing.TB
	bin    string
	dir    string
	conf   string
	out    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// outTemplate separates the fields with '|'; msg comes last, whole.
const outTemplate = `%inputname%|%pri%|%protocol-version%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%msgid%|%structured-data%|%msg%\n`

// StartRsyslogd starts a private rsyslogd and stops it when the test ends.
// With tlsCert set, its TCP input speaks TLS (RFC 5425) with that
// certificate. Without rsyslogd (or its OpenSSL driver, for TLS) the test
// is skipped (Missing).
func StartRsyslogd(tb testing.TB, tlsCert *TLSFiles) *Rsyslogd {
	tb.Helper()
	bin := rsyslogdPath(tb)
	if tlsCert != nil && !hasOpenSSLDriver() {
		Missing(tb, "rsyslog's OpenSSL driver not found: install the Debian package rsyslog-openssl")
	}
	dir := tb.TempDir()
	r := &Rsyslogd{
		tb:     tb,
		bin:    bin,
		dir:    dir,
		conf:   filepath.Join(dir, "rsyslog.conf"),
		out:    filepath.Join(dir, "out.log"),
		Port:   FreePort(tb),
		Socket: filepath.Join(dir, "log.sock"),
	}
	require.NoError(tb, os.Mkdir(filepath.Join(dir, "work"), 0o755))

	global := fmt.Sprintf(`workDirectory=%q maxMessageSize="128k"`, filepath.Join(dir, "work"))
	tcpModule := `module(load="imtcp")`
	if tlsCert != nil {
		global += fmt.Sprintf(` DefaultNetstreamDriver="ossl" DefaultNetstreamDriverCAFile=%q DefaultNetstreamDriverCertFile=%q DefaultNetstreamDriverKeyFile=%q`,
			tlsCert.Cert, tlsCert.Cert, tlsCert.Key)
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
`, global, r.Socket, r.Port, tcpModule, r.Port, outTemplate, r.out)
	require.NoError(tb, os.WriteFile(r.conf, []byte(conf), 0o644))
	out, err := exec.Command(bin, "-N1", "-f", r.conf).CombinedOutput()
	require.NoError(tb, err, "rsyslogd -N1 rejects the config:\n%s\n%s", out, conf)

	tb.Cleanup(func() {
		if r.Running() {
			r.Stop()
		}
		if tb.Failed() {
			log, _ := os.ReadFile(filepath.Join(dir, "rsyslogd.log"))
			outLog, _ := os.ReadFile(r.out)
			tb.Logf("rsyslogd output:\n%s\nreceived (last 4 KiB):\n%s", log, tail(outLog, 4096))
		}
	})
	r.Start()
	return r
}

// tail returns the last n bytes of b.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Start (re)starts rsyslogd on the same port and files, and waits until
// its TCP port accepts connections and its unix socket exists.
func (r *Rsyslogd) Start() {
	tb := r.tb
	tb.Helper()
	log, err := os.OpenFile(filepath.Join(r.dir, "rsyslogd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(tb, err)
	defer log.Close()
	_ = os.Remove(r.Socket)
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = rsyslogdSysProcAttr()
	require.NoError(tb, cmd.Start())
	r.cmd = cmd
	r.exited = make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(r.exited)
	}()
	require.Eventually(tb, func() bool {
		if !r.Running() {
			return false
		}
		c, err := net.DialTimeout("tcp", r.TCPAddr(), time.Second)
		if err != nil {
			return false
		}
		_ = c.Close()
		_, err = os.Stat(r.Socket)
		return err == nil
	}, waitFor, tick, "rsyslogd did not listen on %s", r.TCPAddr())
}

// Running reports whether the started rsyslogd has not exited.
func (r *Rsyslogd) Running() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// Stop terminates rsyslogd (SIGTERM, SIGKILL after the deadline) and waits
// until it has exited: its sockets are closed then.
func (r *Rsyslogd) Stop() {
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(waitFor):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// TCPAddr is the TCP (or TLS) input's address, host:port.
func (r *Rsyslogd) TCPAddr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// Address is a syslog sink's address of the input for scheme: "udp",
// "tcp" or "tls" (the port's), "unix" (the socket's).
func (r *Rsyslogd) Address(scheme string) string {
	if scheme == "unix" {
		return "unix://" + r.Socket
	}
	return scheme + "://" + r.TCPAddr()
}

// Record is one message as rsyslogd parsed it.
type Record struct {
	Input, Pri, Version, Time, Host, App, MsgID, SD, Msg string
}

// Records returns the messages received so far from app.
func (r *Rsyslogd) Records(app string) []Record {
	data, err := os.ReadFile(r.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	require.NoError(r.tb, err)
	var out []Record
	for _, line := range bytes.Split(data, []byte("\n")) {
		f := strings.SplitN(string(line), "|", 9)
		if len(f) < 9 || f[5] != app {
			continue
		}
		out = append(out, Record{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]})
	}
	return out
}

// WaitRecords waits until at least n messages from app have arrived and
// returns them.
func (r *Rsyslogd) WaitRecords(app string, n int) []Record {
	r.tb.Helper()
	var got []Record
	require.Eventually(r.tb, func() bool {
		got = r.Records(app)
		return len(got) >= n
	}, waitFor, tick, "want %d messages from %q", n, app)
	return got
}
