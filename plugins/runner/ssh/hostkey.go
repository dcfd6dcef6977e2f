package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/prox-dev/prox/sdk"
	"net"
	"strings"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

var (
	// ErrUnknownHostKey means the server's host key is not in known_hosts:
	// the runner refuses to talk to a server it cannot identify.
	ErrUnknownHostKey = errors.New("host key is unknown")
	// ErrHostKeyMismatch means known_hosts holds a different key for the
	// server: its key changed, or someone is impersonating it.
	ErrHostKeyMismatch = errors.New("host key mismatch")
	// ErrHostKeyRevoked means the server presented a key that known_hosts
	// marks as @revoked.
	ErrHostKeyRevoked = errors.New("host key is revoked")
)

// loadKnownHosts parses a known_hosts file.
func loadKnownHosts(path string) (xssh.HostKeyCallback, error) {
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil, sdk.AttributeErrorf("known_hosts", "%w (create it, e.g. with ssh-keyscan, or set insecure_ignore_host_key)", err)
	}
	return cb, nil
}

// hostKeyCheck returns the callback verifying the server's key against
// path, and the host key algorithms to ask the server for: those of the
// keys known_hosts lists for addr, so that a server with several host keys
// presents one that can be verified. An empty list means the defaults.
func hostKeyCheck(path, addr string) (xssh.HostKeyCallback, []string, error) {
	db, err := loadKnownHosts(path)
	if err != nil {
		return nil, nil, err
	}
	check := func(hostname string, remote net.Addr, key xssh.PublicKey) error {
		err := db(hostname, remote, key)
		if err == nil {
			return nil
		}
		return hostKeyError(path, hostname, key, err)
	}
	return check, knownAlgorithms(db, addr), nil
}

// hostKeyError turns a knownhosts error into one that says what is wrong
// and what to do.
func hostKeyError(path, hostname string, key xssh.PublicKey, err error) error {
	got := key.Type() + " " + xssh.FingerprintSHA256(key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return fmt.Errorf("%w: %s presented %s, which is not in %s; verify it and add it (e.g. ssh-keyscan output) to that file",
			ErrUnknownHostKey, hostname, got, path)
	case errors.As(err, &keyErr):
		var want []string
		for _, k := range keyErr.Want {
			want = append(want, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), xssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
		}
		return fmt.Errorf("%w: %s presented %s but known_hosts has %s; the host key changed or the connection is intercepted",
			ErrHostKeyMismatch, hostname, got, strings.Join(want, ", "))
	case errors.As(err, &revoked):
		return fmt.Errorf("%w: %s presented %s, revoked at %s:%d", ErrHostKeyRevoked, hostname, got, revoked.Revoked.Filename, revoked.Revoked.Line)
	default:
		return fmt.Errorf("verify host key of %s: %w", hostname, err)
	}
}

// knownAlgorithms lists the host key algorithms matching the keys db holds
// for addr. It asks db about a freshly generated key, which cannot be
// known: the resulting mismatch lists the keys that are.
func knownAlgorithms(db xssh.HostKeyCallback, addr string) []string {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	probe, err := xssh.NewSignerFromKey(priv)
	if err != nil {
		return nil
	}
	var keyErr *knownhosts.KeyError
	if !errors.As(db(addr, &net.TCPAddr{IP: net.IPv4zero}, probe.PublicKey()), &keyErr) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a ...string) {
		for _, x := range a {
			if !seen[x] {
				seen[x] = true
				algos = append(algos, x)
			}
		}
	}
	for _, k := range keyErr.Want {
		if k.Key.Type() == xssh.KeyAlgoRSA {
			// An RSA key signs with any of these; the SHA-2 ones first.
			add(xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256, xssh.KeyAlgoRSA)
			continue
		}
		add(k.Key.Type())
	}
	return algos
}
