package ssh

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShellQuoteRoundTrip(t *testing.T) {
	shPath, err := exec.LookPath("sh")
	if err != nil {
		missing(t, "sh not found")
	}
	words := []string{"", "plain", "two words", "it's", "'", "''", `'\''`, `"`, "$HOME", "`id`", "$(id)", "a\nb", "\\", "*", "~", "!", "#", "-n"}
	var script strings.Builder
	script.WriteString("printf '<%s>'")
	for _, w := range words {
		script.WriteString(" " + shellQuote(w))
	}
	out, err := exec.Command(shPath, "-c", script.String()).Output()
	require.NoError(t, err)
	var want strings.Builder
	for _, w := range words {
		want.WriteString("<" + w + ">")
	}
	assert.Equal(t, want.String(), string(out))
}

func TestRemoteEnv(t *testing.T) {
	export, skipped := remoteEnv([]string{
		"PATH=/usr/bin", "HOME=/root", "USER=root", "LOGNAME=root", "SHELL=/bin/bash", "PWD=/x", "OLDPWD=/y",
		"TERM=xterm", "TMPDIR=/tmp", "SSH_AUTH_SOCK=/s", "SSH_CONNECTION=a", "XDG_RUNTIME_DIR=/run", "_=/usr/bin/prox",
		"LANG=C.UTF-8", "LC_ALL=C", "APP_MODE=prod", "EMPTY=", "WITH=equals=sign", "BAD-NAME=1", "1BAD=1", "NOEQUALS",
		"_OK=1",
	})
	assert.Equal(t, [][2]string{
		{"LANG", "C.UTF-8"}, {"LC_ALL", "C"}, {"APP_MODE", "prod"}, {"EMPTY", ""}, {"WITH", "equals=sign"}, {"_OK", "1"},
	}, export)
	assert.Equal(t, []string{
		"PATH", "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "TERM", "TMPDIR", "SSH_AUTH_SOCK", "SSH_CONNECTION",
		"XDG_RUNTIME_DIR", "_", "BAD-NAME", "1BAD", "NOEQUALS",
	}, skipped)
}

func TestReadMarker(t *testing.T) {
	const nonce = "abc123"
	for _, tc := range []struct {
		name      string
		in        string
		pgid      int
		discarded int
		rest      string
		err       string
	}{
		{name: "first line", in: "prox-ssh:abc123:4242\nhello\n", pgid: 4242, rest: "hello\n"},
		{name: "login noise first", in: "welcome\nprox-ssh:other:1\nprox-ssh:abc123:77\nout", pgid: 77, discarded: 25, rest: "out"},
		{name: "no marker", in: "motd\n", discarded: 5, err: "EOF"},
		{name: "malformed", in: "prox-ssh:abc123:x\n", err: "malformed marker line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.in), 64)
			pgid, discarded, err := readMarker(r, nonce)
			assert.Equal(t, tc.discarded, discarded)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.pgid, pgid)
			rest := new(strings.Builder)
			_, _ = bufio.NewReader(r).WriteTo(rest)
			assert.Equal(t, tc.rest, rest.String())
		})
	}
}

func TestRemoteLineQuotesEverything(t *testing.T) {
	line := remoteLine([]string{"echo", "it's"}, [][2]string{{"K", "v'x"}}, "/d'ir", "n0nce")
	// The login shell sees one exec of /bin/sh with single-quoted words.
	assert.True(t, strings.HasPrefix(line, "exec /bin/sh -c '"), line)
	assert.True(t, strings.HasSuffix(line, ` prox-ssh 'echo' 'it'\''s'`), line)
	// Run the line through a local shell that only prints the wrapper and
	// its arguments: each reaches /bin/sh intact.
	out, err := exec.Command("sh", "-c", strings.Replace(line, "exec /bin/sh -c", "printf '%s\\n'", 1)).Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	require.Len(t, lines, 4)
	wrapper := lines[0]
	assert.Contains(t, wrapper, `cd -- '/d'\''ir' || exit 125;`)
	assert.Contains(t, wrapper, `export K='v'\''x';`)
	assert.Contains(t, wrapper, `echo "prox-ssh:n0nce:$$"`)
	assert.Equal(t, []string{"prox-ssh", "echo", "it's"}, lines[1:])
}
