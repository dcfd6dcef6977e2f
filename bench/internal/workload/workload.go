// Package workload holds what the benchmark's workload program (proxload)
// does: write records as fast as it can, mark itself ready, ignore SIGTERM,
// crash at once, and report what it did in files the scenario reads
// afterwards. Files that a scenario polls for are written atomically (a
// temporary file renamed into place), so a reader never sees half of one.
package workload

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prox-dev/prox/bench/internal/lines"
)

// writeChunk is how many bytes WriteLines hands to one write(2).
const writeChunk = 64 << 10

// WriteLines writes records 0 to n-1 of tag, size bytes each, to w in
// writes of about 64 KiB.
func WriteLines(w io.Writer, tag string, n, size int) error {
	f, err := lines.NewFormatter(tag, size)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("negative line count %d", n)
	}
	buf := make([]byte, 0, writeChunk+size)
	for seq := 0; seq < n; seq++ {
		buf = f.AppendRecord(buf, uint64(seq))
		if len(buf) >= writeChunk {
			if _, err := w.Write(buf); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

// LinesReport is what a line writer reports when it is done.
type LinesReport struct {
	// Tag, Lines and Size say what was written.
	Tag   string `json:"tag"`
	Lines int    `json:"lines"`
	Size  int    `json:"size"`
	// StartUnixNano and EndUnixNano bracket the writing.
	StartUnixNano int64 `json:"start_unix_nano"`
	EndUnixNano   int64 `json:"end_unix_nano"`
	// UserSeconds and SystemSeconds are the writer's own CPU time.
	UserSeconds   float64 `json:"user_s"`
	SystemSeconds float64 `json:"sys_s"`
	// MaxRSSKiB is the writer's peak resident set.
	MaxRSSKiB int64 `json:"max_rss_kib"`
}

// CPUSeconds returns the writer's user plus system time.
func (r *LinesReport) CPUSeconds() float64 { return r.UserSeconds + r.SystemSeconds }

// SelfUsage fills the CPU and memory fields of r from getrusage(2).
func (r *LinesReport) SelfUsage() error {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return fmt.Errorf("getrusage: %w", err)
	}
	r.UserSeconds = timeval(ru.Utime)
	r.SystemSeconds = timeval(ru.Stime)
	r.MaxRSSKiB = ru.Maxrss
	return nil
}

func timeval(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// WriteReport writes r as JSON to path, atomically.
func WriteReport(path string, r *LinesReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	return writeAtomic(path, b)
}

// ReadReports reads every report in dir.
func ReadReports(dir string) ([]LinesReport, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read reports: %w", err)
	}
	var out []LinesReport
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read report: %w", err)
		}
		var r LinesReport
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("report %s: %w", e.Name(), err)
		}
		out = append(out, r)
	}
	return out, nil
}

// MarkReady records in dir that this process runs and has set itself up:
// a file named after its PID holding the wall-clock time in nanoseconds.
func MarkReady(dir string) error {
	if dir == "" {
		return nil
	}
	now := time.Now().UnixNano()
	return writeAtomic(filepath.Join(dir, strconv.Itoa(os.Getpid())), []byte(strconv.FormatInt(now, 10)+"\n"))
}

// CountReady returns how many processes have marked themselves ready in
// dir (0 when dir does not exist yet).
func CountReady(dir string) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// ReadyTimes returns the times at which the processes marked themselves
// ready in dir, earliest first.
func ReadyTimes(dir string) ([]time.Time, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read ready marks: %w", err)
	}
	var out []time.Time
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read ready mark: %w", err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("ready mark %s: %w", e.Name(), err)
		}
		out = append(out, time.Unix(0, ns))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// RecordStart appends "<unix-nanos> <pid>" to the file at path: a crash
// loop's trace of its starts. Appends of one short line are atomic.
func RecordStart(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("record start: %w", err)
	}
	line := strconv.FormatInt(time.Now().UnixNano(), 10) + " " + strconv.Itoa(os.Getpid()) + "\n"
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return fmt.Errorf("record start: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("record start: %w", err)
	}
	return nil
}

// ReadStarts returns the start times RecordStart wrote to path, earliest
// first; a missing file means no start.
func ReadStarts(path string) ([]time.Time, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read starts: %w", err)
	}
	defer f.Close()
	var out []time.Time
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		field, _, _ := strings.Cut(sc.Text(), " ")
		if field == "" {
			continue
		}
		ns, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("starts file %s: %w", path, err)
		}
		out = append(out, time.Unix(0, ns))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read starts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out, nil
}

// IgnoreTermination makes the process ignore SIGTERM, SIGINT, SIGHUP and
// SIGQUIT: only SIGKILL ends it.
func IgnoreTermination() {
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
}

// Forever blocks for good.
func Forever() {
	for {
		time.Sleep(time.Hour)
	}
}

// writeAtomic writes b to path through a temporary file in the same
// folder, whose name starts with a dot.
func writeAtomic(path string, b []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
