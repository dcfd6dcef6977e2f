package syslog

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prox-dev/prox/sdk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRFC5424OverTCP(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{"address": r.Address("tcp"), "facility": "local3"})

	ts := time.Now()
	long := strings.Repeat("x", 10000)
	b := &sdk.Batch{
		Entries: []sdk.LogEntry{
			{Timestamp: ts, Process: "api worker", Stream: sdk.Stdout, Line: []byte(`quote " backslash \ bracket ] end`)},
			{Timestamp: ts, Process: "api worker", Stream: sdk.Stderr, Line: []byte("bad \xff\xfe bytes")},
			{Timestamp: ts, Process: "api worker", Stream: sdk.Stdout, Line: []byte("")},
			{Timestamp: ts, Process: "api worker", Stream: sdk.Stdout, Line: []byte(long)},
		},
		Events: []sdk.Event{
			{Timestamp: ts.Add(time.Millisecond), Process: "api worker", Type: "started", State: "running", PreviousState: "starting"},
			{Timestamp: ts.Add(2 * time.Millisecond), Process: "api worker", Type: "crashed", State: "backoff", PreviousState: "running", ExitCode: 2, Message: "boom"},
		},
	}
	require.NoError(t, s.Write(context.Background(), b))

	got := r.WaitRecords("api_worker", 6)
	require.Len(t, got, 6)
	host := hostname(t)
	for _, rec := range got {
		assert.Equal(t, "imtcp", rec.Input)
		assert.Equal(t, "1", rec.Version, "RFC 5424 VERSION")
		assert.Equal(t, host, rec.Host)
	}
	const local3 = 19
	stdout := record{Input: "imtcp", Pri: strconv.Itoa(local3*8 + sevInfo), Version: "1", Host: host, App: "api_worker", MsgID: "stdout", SD: `[prox@32473 stream="stdout"]`}
	stderr := stdout
	stderr.Pri, stderr.MsgID, stderr.SD = strconv.Itoa(local3*8+sevWarning), "stderr", `[prox@32473 stream="stderr"]`

	withMsg := func(r record, msg string) record { r.Msg = msg; return r }
	noTime := func(r record) record { r.Time = ""; return r }
	assert.Equal(t, withMsg(stdout, `quote " backslash \ bracket ] end`), noTime(got[0]))
	// Invalid UTF-8 goes through byte for byte, with no BOM before it.
	assert.Equal(t, withMsg(stderr, "bad \xff\xfe bytes"), noTime(got[1]))
	assert.Equal(t, withMsg(stdout, ""), noTime(got[2]), "an empty line is still a message")
	assert.Equal(t, withMsg(stdout, long), noTime(got[3]), "a stream message is never truncated")

	reported, err := time.Parse(time.RFC3339Nano, got[0].Time)
	require.NoError(t, err)
	assert.True(t, ts.Truncate(time.Microsecond).Equal(reported), "TIMESTAMP %s, want %s", got[0].Time, ts)

	started := withMsg(stdout, "started (starting -> running)")
	started.Pri, started.MsgID, started.SD = strconv.Itoa(local3*8+sevNotice), "event", `[prox@32473 event="started" state="running" previous_state="starting"]`
	assert.Equal(t, started, noTime(got[4]))
	crashed := withMsg(stdout, "crashed (running -> backoff, exit code 2): boom")
	crashed.Pri, crashed.MsgID, crashed.SD = strconv.Itoa(local3*8+sevErr), "event", `[prox@32473 event="crashed" state="backoff" previous_state="running" exit_code="2"]`
	assert.Equal(t, crashed, noTime(got[5]))
}

func TestRFC3164OverUDP(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{
		"address": r.Address("udp"), "format": "rfc3164", "facility": "daemon",
		"stdout_severity": "notice", "stderr_severity": "err", "hostname": "box one",
	})

	long := strings.Repeat("0123456789", 500)
	b := &sdk.Batch{Entries: []sdk.LogEntry{
		{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: []byte("hello out")},
		{Timestamp: time.Now(), Process: "web", Stream: sdk.Stderr, Line: []byte("hello err")},
		{Timestamp: time.Now(), Process: "web", Stream: sdk.Stdout, Line: []byte(long)},
	}}
	require.NoError(t, s.Write(context.Background(), b))

	got := r.WaitRecords("web", 3)
	require.Len(t, got, 3)
	const daemon = 3
	for _, rec := range got {
		assert.Equal(t, "imudp", rec.Input)
		assert.Equal(t, "box_one", rec.Host)
		assert.Equal(t, "-", rec.MsgID, "RFC 3164 has no MSGID")
		assert.Equal(t, "-", rec.SD, "RFC 3164 has no structured data")
	}
	assert.Equal(t, strconv.Itoa(daemon*8+sevNotice), got[0].Pri)
	assert.Equal(t, strconv.Itoa(daemon*8+sevErr), got[1].Pri)
	// rsyslog keeps the space after "TAG:" in the RFC 3164 msg.
	assert.Equal(t, " hello out", got[0].Msg)
	assert.Equal(t, " hello err", got[1].Msg)

	// The long line is cut to fit one 2048-byte datagram, header intact.
	text := strings.TrimPrefix(got[2].Msg, " ")
	assert.Equal(t, strconv.Itoa(daemon*8+sevNotice), got[2].Pri)
	assert.True(t, strings.HasPrefix(long, text), "the datagram carries the start of the line")
	assert.Less(t, len(text), maxUDPMessage)
	assert.Greater(t, len(text), maxUDPMessage-100)
}

func TestRFC5424OverUnixSocket(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{"address": r.Address("unix")})

	b := &sdk.Batch{
		Entries: []sdk.LogEntry{
			{Timestamp: time.Now(), Process: "db", Stream: sdk.Stdout, Line: []byte("ready to accept connections")},
			{Timestamp: time.Now(), Process: "db", Stream: sdk.Stderr, Line: []byte("checkpoint slow")},
		},
		Events: []sdk.Event{{Timestamp: time.Now().Add(time.Second), Process: "db", Type: "failed", State: "failed", Message: "gave up"}},
	}
	require.NoError(t, s.Write(context.Background(), b))

	got := r.WaitRecords("db", 3)
	require.Len(t, got, 3)
	host := hostname(t)
	const user = 1
	want := []record{
		{Input: "imuxsock", Pri: strconv.Itoa(user*8 + sevInfo), Version: "1", Host: host, App: "db", MsgID: "stdout", SD: `[prox@32473 stream="stdout"]`, Msg: "ready to accept connections"},
		{Input: "imuxsock", Pri: strconv.Itoa(user*8 + sevWarning), Version: "1", Host: host, App: "db", MsgID: "stderr", SD: `[prox@32473 stream="stderr"]`, Msg: "checkpoint slow"},
		{Input: "imuxsock", Pri: strconv.Itoa(user*8 + sevErr), Version: "1", Host: host, App: "db", MsgID: "event", SD: `[prox@32473 event="failed" state="failed"]`, Msg: "failed (- -> failed): gave up"},
	}
	for i := range got {
		got[i].Time = "" // imuxsock uses its own time by default
	}
	assert.Equal(t, want, got)
}

func TestRFC5424OverTLS(t *testing.T) {
	t.Parallel()
	cert := newTLSFiles(t)
	r := startRsyslogd(t, &cert)

	t.Run("verified", func(t *testing.T) {
		s := newSink(t, map[string]any{"address": r.Address("tls"), "tls_ca_file": cert.Cert})
		require.NoError(t, s.Write(context.Background(), lines("secure", "tls", 0, 3)))
		got := r.WaitRecords("secure", 3)
		assert.Equal(t, []string{"tls-00000", "tls-00001", "tls-00002"}, msgs(got))
		assert.Equal(t, "imtcp", got[0].Input)
		assert.Equal(t, "stdout", got[0].MsgID)
		assert.Equal(t, `[prox@32473 stream="stdout"]`, got[0].SD)
	})
	t.Run("insecure skip verify", func(t *testing.T) {
		s := newSink(t, map[string]any{"address": r.Address("tls"), "tls_insecure_skip_verify": true})
		require.NoError(t, s.Write(context.Background(), lines("insecure", "tls", 0, 1)))
		assert.Equal(t, []string{"tls-00000"}, msgs(r.WaitRecords("insecure", 1)))
	})
	t.Run("unknown authority", func(t *testing.T) {
		err := testSink(t).Configure(configValues(t, map[string]any{"address": r.Address("tls")}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), r.Address("tls"))
		assert.Contains(t, err.Error(), "certificate")
	})
	t.Run("wrong server name", func(t *testing.T) {
		err := testSink(t).Configure(configValues(t, map[string]any{
			"address": r.Address("tls"), "tls_ca_file": cert.Cert, "tls_server_name": "syslog.example.com",
		}))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "syslog.example.com")
	})
}

func TestManyLinesOverTCPArriveInOrder(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{"address": r.Address("tcp")})

	var want []string
	for i := 0; i < 10000; i += 1000 {
		b := lines("bulk", "line", i, i+1000)
		want = append(want, lineTexts(b)...)
		require.NoError(t, s.Write(context.Background(), b))
	}
	require.NoError(t, s.Flush(context.Background()))
	got := r.WaitRecords("bulk", 10000)
	assert.Equal(t, want, msgs(got))
}

func TestReconnectsAfterServerRestart(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"tcp", "tls", "unix"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			var cert *tlsFiles
			set := map[string]any{}
			if scheme == "tls" {
				c := newTLSFiles(t)
				cert = &c
				set["tls_ca_file"] = c.Cert
			}
			r := startRsyslogd(t, cert)
			set["address"] = r.Address(scheme)
			s := newSink(t, set)

			before := lines("restart", "line", 0, 100)
			require.NoError(t, s.Write(context.Background(), before))
			r.WaitRecords("restart", 100)

			r.Stop()
			// Written while the server is down: queued, acknowledged.
			down1 := lines("restart", "line", 100, 200)
			down2 := lines("restart", "line", 200, 300)
			require.NoError(t, within(t, func() error { return s.Write(context.Background(), down1) }))
			require.NoError(t, within(t, func() error { return s.Write(context.Background(), down2) }))

			r.Start()
			after := lines("restart", "line", 300, 400)
			require.NoError(t, s.Write(context.Background(), after))
			require.NoError(t, s.Flush(context.Background()))

			var want []string
			for _, b := range []*sdk.Batch{before, down1, down2, after} {
				want = append(want, lineTexts(b)...)
			}
			assert.Equal(t, want, msgs(r.WaitRecords("restart", 400)))
		})
	}
}

func TestWriteFailsWhenItCannotDeliver(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{"address": r.Address("tcp"), "max_queue": 0, "connect_timeout": "200ms"})

	first := lines("nodeliver", "line", 0, 10)
	require.NoError(t, s.Write(context.Background(), first))
	r.WaitRecords("nodeliver", 10)

	r.Stop()
	second := lines("nodeliver", "line", 10, 20)
	err := within(t, func() error { return s.Write(context.Background(), second) })
	require.Error(t, err, "nothing may be acknowledged that is neither sent nor queued")
	assert.Contains(t, err.Error(), r.Address("tcp"))

	// The host resends the batch; once the server is back it goes through.
	r.Start()
	require.Eventually(t, func() bool { return s.Write(context.Background(), second) == nil }, waitFor, tick)
	got := r.WaitRecords("nodeliver", 20)
	assert.Equal(t, append(lineTexts(first), lineTexts(second)...), msgs(got))
}

// A Write that finds the queue full while the server refuses connections
// fails once a reconnect attempt has failed, naming the address and the
// cause, rather than waiting out its delivery timeout (three times
// connect_timeout, here 3 minutes) with the sink shown as ok meanwhile.
// Once a server listens, the resent batch is delivered after the queued
// one, in order.
func TestWriteToARefusingServerFailsNamingWhy(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := "tcp://127.0.0.1:" + strconv.Itoa(port)
	s := testSink(t)
	require.NoError(t, s.Configure(configValues(t, map[string]any{"address": addr, "connect_timeout": "1m", "max_queue": 2})))
	first := lines("refused", "line", 0, 2)
	require.NoError(t, s.Write(context.Background(), first), "queued")

	second := lines("refused", "line", 2, 4)
	err := within(t, func() error { return s.Write(context.Background(), second) })
	require.Error(t, err, "nothing may be acknowledged that is neither sent nor queued")
	assert.Contains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Contains(t, err.Error(), "2 messages queued (max_queue 2)")

	got := listenLate(t, port, "line-00003")
	// The host resends the batch with its backoff.
	require.Eventually(t, func() bool { return s.Write(context.Background(), second) == nil }, waitFor, tick)
	select {
	case all := <-got:
		last := -1
		for i := 0; i < 4; i++ {
			at := strings.Index(all, fmt.Sprintf("line-%05d", i))
			require.Greater(t, at, last, "line %d, in order, once:\n%s", i, all)
			assert.Equal(t, 1, strings.Count(all, fmt.Sprintf("line-%05d", i)))
			last = at
		}
	case <-time.After(waitFor):
		t.Fatal("the server never got the lines")
	}
	require.NoError(t, within(t, func() error { return s.Close(context.Background()) }))
}

func TestWriteHonoursContext(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := newSink(t, map[string]any{"address": r.Address("tcp"), "max_queue": 0})
	r.Stop()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := within(t, func() error { return s.Write(ctx, lines("ctx", "line", 0, 1)) })
	require.ErrorIs(t, err, context.Canceled)
}

func TestCloseReportsUndeliveredMessages(t *testing.T) {
	t.Parallel()
	r := startRsyslogd(t, nil)
	s := testSink(t)
	require.NoError(t, s.Configure(configValues(t, map[string]any{"address": r.Address("tcp"), "connect_timeout": "100ms"})))
	r.Stop()

	require.NoError(t, s.Write(context.Background(), lines("lost", "line", 0, 7)), "queued while the server is down")
	err := within(t, func() error { return s.Flush(context.Background()) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "7 messages still queued")

	err = within(t, func() error { return s.Close(context.Background()) })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "7 messages not delivered")
	assert.Contains(t, err.Error(), r.Address("tcp"))

	err = s.Write(context.Background(), lines("lost", "line", 7, 8))
	assert.ErrorContains(t, err, "closed")
}

func TestUnreachableServerAtStart(t *testing.T) {
	t.Parallel()
	t.Run("tcp: queued, then delivered once a server listens", func(t *testing.T) {
		port := freePort(t)
		addr := "tcp://127.0.0.1:" + strconv.Itoa(port)
		s := testSink(t)
		require.NoError(t, within(t, func() error {
			return s.Configure(configValues(t, map[string]any{"address": addr, "connect_timeout": "300ms"}))
		}), "a server that is down at start does not stop prox")
		require.NoError(t, s.Write(context.Background(), lines("web", "line", 0, 3)), "queued")

		got := listenLate(t, port, "line-00002")
		select {
		case msgs := <-got:
			for i := 0; i < 3; i++ {
				assert.Contains(t, msgs, fmt.Sprintf("line-%05d", i))
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the queued lines never reached the server")
		}
		assert.NoError(t, within(t, func() error { return s.Close(context.Background()) }))
	})
	t.Run("unix socket missing: Close reports what was not delivered", func(t *testing.T) {
		addr := "unix://" + filepath.Join(t.TempDir(), "missing.sock")
		s := testSink(t)
		require.NoError(t, within(t, func() error {
			return s.Configure(configValues(t, map[string]any{"address": addr, "connect_timeout": "200ms"}))
		}))
		require.NoError(t, s.Write(context.Background(), lines("web", "line", 0, 2)))
		err := within(t, func() error { return s.Close(context.Background()) })
		require.Error(t, err)
		assert.Contains(t, err.Error(), "2 messages not delivered")
	})
}

// listenLate starts a TCP server on the loopback port, as a syslog server
// that comes up after the sink, and sends on the channel what its first
// connection received, once that holds last (or the connection ended).
func listenLate(t *testing.T, port int, last string) <-chan string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		var all []byte
		buf := make([]byte, 4096)
		for !strings.Contains(string(all), last) {
			n, err := c.Read(buf)
			all = append(all, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- string(all)
	}()
	return got
}
