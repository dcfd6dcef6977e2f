// Alertmanager and Prometheus (Debian prometheus-alertmanager and
// prometheus), each a private instance on a free loopback port with its
// own temporary configuration and storage.

package testservers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ReadyWithin bounds how long a server may take to say it is ready.
const ReadyWithin = 30 * time.Second

// Binary finds a server's executable, or skips (fails under CI) naming
// the Debian package that has it.
func Binary(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		p = filepath.Join("/usr/bin", name)
		_, err = os.Stat(p)
	}
	if err != nil {
		Missing(t, "%s not found: install the Debian package %s (scripts/test-packages.txt)", name, debianPackage)
	}
	return p
}

// Server is a started server.
type Server struct {
	// URL is its base URL, http://127.0.0.1:PORT.
	URL string
	// Dir is its temporary folder (configuration, storage, log).
	Dir string

	cmd    *exec.Cmd
	log    *lockedBuffer
	exited chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Log returns what the server has written to stderr and stdout.
func (s *Server) Log() string { return s.log.String() }

// start runs bin with args and waits for GET /-/ready to answer 200. It
// is stopped (SIGTERM, then SIGKILL) when the test ends.
func start(t testing.TB, name, dir string, port int, bin string, args ...string) *Server {
	t.Helper()
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), Dir: dir, log: &lockedBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Dir = dir
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, s.Log())
		}
	})
	deadline := time.Now().Add(ReadyWithin)
	for {
		resp, err := http.Get(s.URL + "/-/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.exited:
			t.Fatalf("%s exited before it was ready:\n%s", name, s.Log())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %s: %v\n%s", name, ReadyWithin, err, s.Log())
		}
	}
}

// StartAlertmanager starts a private Alertmanager (gossip off) that routes
// every alert to a receiver that sends nothing.
func StartAlertmanager(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t, "prometheus-alertmanager", "prometheus-alertmanager")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	writeFile(t, cfg, "route:\n  receiver: none\nreceivers:\n  - name: none\n")
	port := FreePort(t)
	return start(t, "alertmanager", dir, port, bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port), "--cluster.listen-address=")
}

// StartPrometheus starts a private Prometheus that scrapes the targets
// (host:port, /metrics) every second as job "prox".
func StartPrometheus(t testing.TB, targets ...string) *Server {
	t.Helper()
	bin := Binary(t, "prometheus", "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	list, _ := json.Marshal(targets)
	writeFile(t, cfg, fmt.Sprintf("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: prox\n    static_configs:\n      - targets: %s\n", list))
	port := FreePort(t)
	return start(t, "prometheus", dir, port, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+strconv.Itoa(port))
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Alert is an alert as Alertmanager's GET /api/v2/alerts lists it.
type Alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

// Alerts returns the alerts Alertmanager lists (GET /api/v2/alerts: the
// active ones, resolved alerts are not listed).
func (s *Server) Alerts(t testing.TB) []Alert {
	t.Helper()
	var out []Alert
	s.getJSON(t, "/api/v2/alerts", &out)
	return out
}

// Sample is one series of a PromQL instant query's result.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query runs a PromQL instant query through Prometheus's HTTP API.
func (s *Server) Query(t testing.TB, promql string) []Sample {
	t.Helper()
	var resp struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	s.getJSON(t, "/api/v1/query?query="+url.QueryEscape(promql), &resp)
	if resp.Status != "success" {
		t.Fatalf("query %q: %s", promql, resp.Error)
	}
	var out []Sample
	for _, r := range resp.Data.Result {
		str, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(str, 64)
		if err != nil {
			t.Fatalf("query %q: value %v: %v", promql, r.Value[1], err)
		}
		out = append(out, Sample{Metric: r.Metric, Value: v})
	}
	return out
}

func (s *Server) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := http.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}
