package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMetricsAddressInUseIsRefused: a metrics address another program
// holds stops prox before any plugin starts, with a diagnostic at the
// address's line.
func TestMetricsAddressInUseIsRefused(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	opts, _, _ := testOptions(t, fmt.Sprintf("process \"a\" {\n  command = [\"sleep\", \"60\"]\n}\nmetrics {\n  address = %q\n}\n", busy.Addr().String()))
	opts.Terminal = func([]string) Terminal {
		t.Error("nothing runs")
		return nil
	}
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	require.NotNil(t, a)
	defer a.Close()
	require.True(t, diags.HasErrors())
	require.Len(t, diags, 1)
	assert.Equal(t, "Metrics address not available", diags[0].Summary)
	assert.Contains(t, diags[0].Detail, "Another program already listens on "+busy.Addr().String())
	assert.Equal(t, opts.ConfigPath, diags[0].Subject.Filename)
	assert.Equal(t, 5, diags[0].Subject.Start.Line)
	require.NotNil(t, a.Config(), "the diagnostic renders against the file")
}

// TestMetricsServedOnTCPAndTheSocket: with a metrics block, /metrics is
// served on its address and on the control socket; the listener is gone
// once prox has stopped.
func TestMetricsServedOnTCPAndTheSocket(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	opts, _, logOut := testOptions(t, fmt.Sprintf("process \"a\" {\n  command = [\"sh\", \"-c\", \"echo hi; exec sleep 60\"]\n}\nmetrics {\n  address = %q\n}\n", addr))
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	defer a.Close()
	require.False(t, diags.HasErrors(), diags.Error())
	interrupts := make(chan os.Signal, 1)
	done := make(chan int)
	go func() { done <- a.Run(interrupts) }()

	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK && containsLine(body, `prox_process_output_lines_total{process="a",replica="",stream="stdout"} 1`)
	}, 20*time.Second, 10*time.Millisecond, "log: %s", logOut.String())
	assert.True(t, containsLine(body, `prox_process_up{process="a",replica=""} 1`), body)
	assert.True(t, containsLine(body, `prox_plugin_up{plugin="runner.exec"} 1`), body)

	sock := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", opts.Socket)
	}}}
	resp, err := sock.Get("http://prox/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, containsLine(string(b), `prox_process_up{process="a",replica=""} 1`), string(b))

	interrupts <- os.Interrupt
	assert.Equal(t, 0, <-done)
	_, err = net.DialTimeout("tcp", addr, time.Second)
	assert.Error(t, err, "the metrics listener is closed")
}

func containsLine(text, line string) bool {
	for len(text) > 0 {
		i := 0
		for i < len(text) && text[i] != '\n' {
			i++
		}
		if text[:i] == line {
			return true
		}
		if i == len(text) {
			break
		}
		text = text[i+1:]
	}
	return false
}

// TestMetricsOfReplicas: the instances of a process with replicas are
// labelled with the block's name and their index, on the socket's
// /metrics.
func TestMetricsOfReplicas(t *testing.T) {
	opts, _, logOut := testOptions(t, "process \"w\" {\n  command  = [\"sh\", \"-c\", \"echo i am $PROX_REPLICA; exec sleep 60\"]\n  replicas = 2\n}\n")
	a, diags, err := New(context.Background(), opts)
	require.NoError(t, err)
	defer a.Close()
	require.False(t, diags.HasErrors(), diags.Error())
	interrupts := make(chan os.Signal, 1)
	done := make(chan int)
	go func() { done <- a.Run(interrupts) }()
	sock := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", opts.Socket)
	}}}
	var body string
	require.Eventually(t, func() bool {
		resp, err := sock.Get("http://prox/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return containsLine(body, `prox_process_output_lines_total{process="w",replica="1",stream="stdout"} 1`) &&
			containsLine(body, `prox_process_output_lines_total{process="w",replica="0",stream="stdout"} 1`)
	}, 20*time.Second, 10*time.Millisecond, "log: %s", logOut.String())
	assert.True(t, containsLine(body, `prox_process_up{process="w",replica="0"} 1`), body)
	assert.True(t, containsLine(body, `prox_process_up{process="w",replica="1"} 1`), body)
	interrupts <- os.Interrupt
	assert.Equal(t, 0, <-done)
}
