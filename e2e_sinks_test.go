package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpFileSinkReceivesEveryLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	const n = 100000
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "file" "all" {
  path = "%s/logs/{process}.log"
}

process "writer" {
  command = ["sh", "-c", "i=0; while [ $i -lt %d ]; do echo \"line $i\"; i=$((i+1)); done; echo done >&2"]
  sinks   = ["file.all"]
}

process "crasher" {
  command = ["sh", "-c", "echo about to fail; exit 7"]
  sinks   = ["file.all"]
}
`, dir, n)), 0o644))
	r := startUp(t, cfg)
	// Both exit by themselves; prox drains the sinks before exiting.
	assert.Equal(t, 1, r.wait(t), "crasher failed")

	f, err := os.Open(filepath.Join(dir, "logs", "writer.log"))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	i := 0
	sawDone := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "--- prox:"):
			continue
		case line == "done":
			sawDone = true
			continue
		}
		require.Equal(t, fmt.Sprintf("line %d", i), line, "line %d intact and in order", i)
		i++
	}
	assert.Equal(t, n, i, "every line reached the file")
	assert.True(t, sawDone, "stderr too")

	crash, err := os.ReadFile(filepath.Join(dir, "logs", "crasher.log"))
	require.NoError(t, err)
	assert.Contains(t, string(crash), "about to fail")
	assert.Contains(t, string(crash), "--- prox: process crasher crashed", "events reach the sink")
	requireNoneLeft(t, r.marker)
}

func TestUpWebhookAlertsOnCrash(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prox.hcl")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`
sink "webhook" "alerts" {
  url    = %q
  events = ["crashed"]
  match  = "(?i)panic"
}

process "api" {
  command = ["sh", "-c", "echo starting; echo 'PANIC: out of cheese' >&2; exit 2"]
  sinks   = ["webhook.alerts"]
}
`, srv.URL)), 0o644))
	r := startUp(t, cfg)
	assert.Equal(t, 1, r.wait(t))
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, bodies, "the webhook was called before prox exited")
	all := strings.Join(bodies, "\n")
	var payload struct {
		Alerts []map[string]any `json:"alerts"`
	}
	require.NoError(t, json.Unmarshal([]byte(bodies[0]), &payload), bodies[0])
	assert.Contains(t, all, "out of cheese", "the matching line raised an alert")
	assert.Contains(t, all, "crashed", "the crash raised an alert")
	requireNoneLeft(t, r.marker)
}
