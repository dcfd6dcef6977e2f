package ssh

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The remote side of a process is one line handed to the user's login
// shell (which must be a POSIX shell: sh, bash, dash, ksh, zsh):
//
//	exec /bin/sh -c 'WRAPPER' prox-ssh 'ARGV0' 'ARGV1' ...
//
// Every argument, directory and environment value reaches the remote shell
// single-quoted (a ' inside becomes '\''), so nothing is ever interpolated.
// The wrapper, run by /bin/sh with the argv as "$@":
//
//  1. saves the session's standard input as fd 3 and makes /dev/null the
//     standard input of everything else;
//  2. changes to the working directory and exports the environment;
//  3. checks that argv[0] can be found, and fails with 127 otherwise;
//  4. prints the marker "prox-ssh:NONCE:PGID" on standard output. sshd
//     makes the command a session (and process group) leader, and the
//     exec's keep its PID, so $$ is the process group ID;
//  5. starts the watchdog in the background: it ignores the catchable
//     signals (a group signal must not kill it), reads fd 3 line by line
//     and runs `kill -s LINE -- -PGID` for each (a way to signal when the
//     server refuses another session), and at end of input kills the whole
//     group with SIGKILL. Input ends when the runner closes it after the
//     leader's exit, when sshd does the same, when the connection drops,
//     and when the plugin dies: no group outlives its session;
//  6. exec's the command, in the same process and so the same group.
//
// The runner reads standard output up to the marker (discarding anything a
// login script printed before it), so the process's output starts with the
// command's first byte.

// markerPrefix starts the line that carries the process group ID.
const markerPrefix = "prox-ssh:"

// maxPreamble bounds the output accepted before the marker.
const maxPreamble = 1 << 20

// Exit codes of the wrapper when the command could not be started; they
// are those of a POSIX shell for the same failures.
const (
	exitDirFailed = 125
	exitNotFound  = 127
)

// watchdogSignals are ignored by the watchdog: everything catchable that
// may be sent to the group. (SIGKILL and SIGSTOP cannot be ignored.)
const watchdogSignals = "HUP INT QUIT TERM USR1 USR2 PIPE ALRM TSTP TTIN TTOU"

// localOnlyEnv are the variables that describe the local machine or login
// session; they are never exported to the remote host, which has its own.
var localOnlyEnv = map[string]bool{
	"PATH": true, "HOME": true, "USER": true, "LOGNAME": true, "SHELL": true,
	"PWD": true, "OLDPWD": true, "TERM": true, "TMPDIR": true, "HOSTNAME": true,
	"MAIL": true, "SHLVL": true, "_": true, "DISPLAY": true, "XAUTHORITY": true,
	"WAYLAND_DISPLAY": true, "DBUS_SESSION_BUS_ADDRESS": true,
}

// localOnlyEnvPrefixes are prefixes of variables treated like localOnlyEnv.
var localOnlyEnvPrefixes = []string{"SSH_", "XDG_"}

// remoteEnv selects the entries of env ("KEY=value") that are exported on
// the remote host, in order (a later duplicate wins there too).
//
// The host hands a runner the complete environment: prox's own, merged
// with the process's env block. The rule: everything is exported except
// the variables that describe the local machine or session (PATH, HOME,
// USER, LOGNAME, SHELL, PWD, OLDPWD, TERM, TMPDIR, HOSTNAME, MAIL, SHLVL,
// _, DISPLAY, XAUTHORITY, WAYLAND_DISPLAY, DBUS_SESSION_BUS_ADDRESS,
// SSH_*, XDG_*), which the remote login provides for itself. LANG and
// LC_* are exported. Names a shell cannot export (not [A-Za-z_][A-Za-z0-9_]*)
// are skipped. skipped lists the names left out.
func remoteEnv(env []string) (export [][2]string, skipped []string) {
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		switch {
		case !ok || !validName(k):
			skipped = append(skipped, k)
		case localOnly(k):
			skipped = append(skipped, k)
		default:
			export = append(export, [2]string{k, v})
		}
	}
	return export, skipped
}

func localOnly(name string) bool {
	if localOnlyEnv[name] {
		return true
	}
	for _, p := range localOnlyEnvPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// validName reports whether name is a portable shell variable name.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// shellQuote returns s as one single-quoted word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// newNonce returns a random token that tells the marker line from output.
func newNonce() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// remoteLine builds the line the login shell runs for argv (see above).
func remoteLine(argv []string, env [][2]string, dir, nonce string) string {
	var w strings.Builder
	w.WriteString("exec 3<&0 </dev/null || exit 126; ")
	if dir != "" {
		fmt.Fprintf(&w, "cd -- %s || exit %d; ", shellQuote(dir), exitDirFailed)
	}
	for _, kv := range env {
		fmt.Fprintf(&w, "export %s=%s; ", kv[0], shellQuote(kv[1]))
	}
	fmt.Fprintf(&w, `command -v -- "$1" >/dev/null 2>&1 || { echo "prox-ssh: $1: command not found" >&2; exit %d; }; `, exitNotFound)
	fmt.Fprintf(&w, `echo "%s%s:$$" || exit 126; `, markerPrefix, nonce)
	fmt.Fprintf(&w, `(trap '' %s; while read -r s; do kill -s "$s" -- -$$; done; kill -s KILL -- -$$) <&3 >/dev/null 2>&1 3<&- & `, watchdogSignals)
	w.WriteString(`exec "$@" 3<&-`)

	var line strings.Builder
	line.WriteString("exec /bin/sh -c ")
	line.WriteString(shellQuote(w.String()))
	line.WriteString(" prox-ssh")
	for _, a := range argv {
		line.WriteByte(' ')
		line.WriteString(shellQuote(a))
	}
	return line.String()
}

// errNoMarker means the output ended before the marker: the wrapper failed
// before it could start the command.
var errNoMarker = errors.New("the remote command ended before it started")

// readMarker consumes r up to and including the marker line carrying nonce
// and returns the process group ID from it, and how many bytes came before
// it.
func readMarker(r *bufio.Reader, nonce string) (pgid, discarded int, err error) {
	want := markerPrefix + nonce + ":"
	for {
		line, err := r.ReadSlice('\n')
		if err == nil && strings.HasPrefix(string(line), want) {
			id, convErr := strconv.Atoi(strings.TrimSuffix(string(line[len(want):]), "\n"))
			if convErr != nil || id <= 1 {
				return 0, discarded, fmt.Errorf("malformed marker line %q", line)
			}
			return id, discarded, nil
		}
		discarded += len(line)
		switch {
		case err == nil || errors.Is(err, bufio.ErrBufferFull):
			if discarded > maxPreamble {
				return 0, discarded, fmt.Errorf("more than %d bytes of output before the command started; does a login script print?", maxPreamble)
			}
		default:
			return 0, discarded, err
		}
	}
}
