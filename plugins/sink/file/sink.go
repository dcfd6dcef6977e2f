// Package file is prox's built-in file sink: it writes the output of the
// processes that name it, and their events, to log files, either one file
// shared by all of them or one file per process ("{process}" in path).
//
// Lines are written byte for byte as the process wrote them (invalid UTF-8
// included), each followed by a newline and optionally prefixed with a
// timestamp, the process name and the stream. Files rotate by size with
// numbered backups (PATH.1 is the newest) that can also expire by age.
// Rotation is done synchronously, between lines, by the sink itself, so a
// line is never split across files and no background work outlives a call.
//
// Delivery is at least once: a batch whose Write fails is sent again by the
// host, so a failing disk can lead to lines written twice, never to lines
// lost without an error.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/sdk"
)

const (
	// Name is the sink's kind in prox.hcl.
	Name = "file"
	// Version is the sink's version.
	Version = "0.1.0"
)

var (
	_ sdk.Sink         = (*Sink)(nil)
	_ sdk.Configurable = (*Sink)(nil)
	_ sdk.Shutdowner   = (*Sink)(nil)
	_ sdk.BatchReuser  = (*Sink)(nil)
)

// Sink writes log lines and events to files. It is safe for concurrent use.
// The zero value is not usable; call New.
type Sink struct {
	mu     sync.Mutex
	logger hclog.Logger
	now    func() time.Time
	cfg    *config
	// combined is the one file when the path has no placeholder.
	combined *rotator
	// files are the per-process files by process name.
	files map[string]*rotator
	// dirty lists the files the current batch wrote to.
	dirty []*rotator
	// stamp and event hold a formatted timestamp and event line.
	stamp, event []byte
	stamper      stamper
	closed       bool
	// fsync commits a file (nil: (*os.File).Sync); tests count calls.
	fsync func(*os.File) error
}

// New returns an unconfigured Sink that logs to stderr.
func New() *Sink {
	return &Sink{
		logger: hclog.New(&hclog.LoggerOptions{Name: "sink." + Name, JSONFormat: true, Output: os.Stderr}),
		now:    time.Now,
		files:  make(map[string]*rotator),
	}
}

// ConfigSchema returns the schema of the `sink "file" "NAME"` block.
func (s *Sink) ConfigSchema() *sdk.Schema { return schema }

// Configure validates the block's values. For a combined file it opens the
// file (creating its directory); for per-process files it creates the
// directory part of the path that does not depend on the process name.
// With c.CheckOnly it only validates the values.
func (s *Sink) Configure(c *sdk.Config) error {
	cfg, err := parseConfig(c)
	if err != nil {
		return err
	}
	if c.CheckOnly {
		// prox validate: no folder, no file; only what would stop them.
		if err := checkCreatable(cfg); err != nil {
			return sdk.AttributeErrorf("path", "%w", err)
		}
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg != nil {
		return errors.New("already configured")
	}
	if cfg.perProcess {
		dir := filepath.Dir(cfg.path[:strings.Index(cfg.path, ProcessPlaceholder)] + "x")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return sdk.AttributeErrorf("path", "failed to create directory %s: %w", dir, err)
		}
	} else {
		r := s.newRotator(cfg, cfg.path)
		if err := r.open(); err != nil {
			return sdk.AttributeErrorf("path", "%w", err)
		}
		s.combined = r
	}
	s.cfg = cfg
	s.logger.Debug("configured", "path", cfg.path, "max_size", cfg.maxSize, "max_backups", cfg.maxBackups)
	return nil
}

func (s *Sink) newRotator(cfg *config, path string) *rotator {
	return &rotator{path: path, maxSize: cfg.maxSize, maxBackups: cfg.maxBackups, maxAge: cfg.maxAge, now: s.now, fsync: s.fsync}
}

// Write appends the batch's lines and events to their files and writes the
// buffers out before it returns. Within the batch, an event is written
// after the lines that are not younger than it. Per-process files are
// opened (and their directories created) before anything is written, so a
// file that cannot be opened fails the batch without writing any of it.
func (s *Sink) Write(_ context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.cfg.perProcess {
		if err := s.openAll(b); err != nil {
			return err
		}
	}
	err := s.writeBatch(b)
	for _, r := range s.dirty {
		if err != nil {
			// The host sends the batch again.
			r.discard()
			continue
		}
		r.dirty = false
		err = r.flush()
	}
	s.dirty = s.dirty[:0]
	return err
}

// ReuseBatches tells the SDK that the sink keeps nothing of a batch after
// Write: lines are formatted into the files' own buffers. The SDK then
// decodes batches into reused memory.
func (s *Sink) ReuseBatches() bool { return true }

func (s *Sink) usable() error {
	if s.closed {
		return errors.New("sink is closed")
	}
	if s.cfg == nil {
		return errors.New("sink is not configured")
	}
	return nil
}

// writeBatch merges entries and events by time and formats them into the
// files' buffers.
func (s *Sink) writeBatch(b *sdk.Batch) error {
	events := b.Events
	if !s.cfg.events {
		events = nil
	}
	entries := b.Entries
	i, j := 0, 0
	var (
		lastName string
		last     *rotator
	)
	for i < len(entries) || j < len(events) {
		if j < len(events) && (i == len(entries) || events[j].Timestamp.Before(entries[i].Timestamp)) {
			ev := &events[j]
			j++
			r, err := s.fileFor(ev.Process, &lastName, &last)
			if err != nil {
				return err
			}
			s.event = appendEvent(s.event[:0], ev)
			if err := s.writeRecord(r, ev.Timestamp, ev.Process, "", s.event); err != nil {
				return err
			}
			continue
		}
		e := &entries[i]
		i++
		r, err := s.fileFor(e.Process, &lastName, &last)
		if err != nil {
			return err
		}
		if err := s.writeRecord(r, e.Timestamp, e.Process, e.Stream.String(), e.Line); err != nil {
			return err
		}
	}
	return nil
}

// writeRecord formats one line with its prefixes into r's buffer. stream is
// empty for events, which get no stream prefix.
func (s *Sink) writeRecord(r *rotator, ts time.Time, process, stream string, line []byte) error {
	n := len(line) + 1
	if s.cfg.timestamp {
		s.stamp = s.stamper.append(s.stamp[:0], ts)
		n += len(s.stamp) + 1
	}
	if s.cfg.processPrefix {
		n += len(process) + len(" | ")
	}
	if s.cfg.streamPrefix && stream != "" {
		n += len(stream) + 1
	}
	inBatch := r.dirty
	if err := r.reserve(n); err != nil {
		return err
	}
	if !inBatch {
		s.dirty = append(s.dirty, r)
	}
	buf := r.buf
	if s.cfg.timestamp {
		buf = append(buf, s.stamp...)
		buf = append(buf, ' ')
	}
	if s.cfg.processPrefix {
		buf = append(buf, process...)
		buf = append(buf, " | "...)
	}
	if s.cfg.streamPrefix && stream != "" {
		buf = append(buf, stream...)
		buf = append(buf, ' ')
	}
	buf = append(buf, line...)
	buf = append(buf, '\n')
	r.buf = buf
	return nil
}

// fileFor returns the file of process, remembering the last one looked up:
// consecutive lines mostly come from the same process.
func (s *Sink) fileFor(process string, lastName *string, last **rotator) (*rotator, error) {
	if !s.cfg.perProcess {
		return s.combined, nil
	}
	if *last != nil && *lastName == process {
		return *last, nil
	}
	r, err := s.perProcessFile(process)
	if err != nil {
		return nil, err
	}
	*lastName, *last = process, r
	return r, nil
}

// perProcessFile returns the file of process, opening it on first use.
func (s *Sink) perProcessFile(process string) (*rotator, error) {
	r, ok := s.files[process]
	if !ok {
		r = s.newRotator(s.cfg, strings.ReplaceAll(s.cfg.path, ProcessPlaceholder, fileName(process)))
		s.files[process] = r
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return nil, fmt.Errorf("process %q: %w", process, err)
		}
	}
	return r, nil
}

// openAll opens the files of every process in the batch.
func (s *Sink) openAll(b *sdk.Batch) error {
	var (
		lastName string
		last     *rotator
	)
	for i := range b.Entries {
		if _, err := s.fileFor(b.Entries[i].Process, &lastName, &last); err != nil {
			return err
		}
	}
	if s.cfg.events {
		for i := range b.Events {
			if _, err := s.fileFor(b.Events[i].Process, &lastName, &last); err != nil {
				return err
			}
		}
	}
	return nil
}

// fileName makes a process name safe as one path element.
func fileName(process string) string {
	switch process {
	case "":
		return "_"
	case ".", "..":
		return strings.Repeat("_", len(process))
	}
	return strings.Map(func(r rune) rune {
		if r == '/' || r == 0 {
			return '_'
		}
		return r
	}, process)
}

// Flush writes out what is buffered and commits every file to stable
// storage (fsync).
func (s *Sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sink is closed")
	}
	return s.all((*rotator).sync)
}

// Close flushes, syncs and closes every file. Later Writes fail; closing
// twice is not an error.
func (s *Sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.all((*rotator).close)
}

// syncParallelism bounds the files synced at once by Flush and Close: an
// fsync mostly waits for the disk, and with a file per process a serial
// loop would wait for each in turn.
const syncParallelism = 16

// all runs op on every file, syncParallelism at a time, and joins the
// errors in the order of the files' paths. s.mu must be held.
func (s *Sink) all(op func(*rotator) error) error {
	var files []*rotator
	s.each(func(r *rotator) { files = append(files, r) })
	slices.SortFunc(files, func(a, b *rotator) int { return strings.Compare(a.path, b.path) })
	errs := make([]error, len(files))
	sem := make(chan struct{}, syncParallelism)
	var wg sync.WaitGroup
	for i, r := range files {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = op(r)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Shutdown closes the sink if the host did not.
func (s *Sink) Shutdown() error {
	return s.Close(context.Background())
}

func (s *Sink) each(f func(*rotator)) {
	if s.combined != nil {
		f(s.combined)
	}
	for _, r := range s.files {
		f(r)
	}
}
