// Package file is prox's built-in file sink: it writes the output of the
// processes that name it, and their events, to log files, either one file
// shared by all of them or one file per process ("{process}" in path).
//
// Lines are written byte for byte as the process wrote them (invalid UTF-8
// included), each followed by a newline and optionally prefixed with a
// timestamp, the process name and the stream. Files rotate by size with
// numbered backups (PATH.1 is the newest) that can also expire by age.
// Rotation is done synchronously, between batches, by the sink itself, so a
// line is never split across files and no background work outlives a call.
//
// Delivery is exactly once into regular files: a batch whose Write failed
// (a full disk) or went unanswered (the plugin killed part way through) is
// sent again by the host with the same Seq, and the sink first takes back
// whatever an earlier attempt of it wrote, using the state file it keeps
// beside the logs (see state.go).
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
	// dirty lists the files the current batch writes to.
	dirty []*rotator
	// state is the open state file; nil until the first Write, or when
	// the sink cannot keep one (then a resent batch may repeat lines).
	state      *stateFile
	stateTried bool
	// last is the record of the last batch recorded (or read back from
	// the state file); next is reused to build the following one.
	last, next stateRecord
	stateBuf   []byte
	// host is the PID of the prox process: the plugin's parent.
	host uint64
	// event holds a formatted event line.
	event   []byte
	stamper stamper
	closed  bool
	// fsync commits a file (nil: (*os.File).Sync); tests count calls.
	fsync func(*os.File) error
	// writeFile writes to a log file (nil: (*os.File).Write); tests make
	// it fail, or kill the plugin, part way.
	writeFile func(*os.File, []byte) (int, error)
	// writeState writes a state record (nil: at offset 0); tests cut it.
	writeState func(*os.File, []byte) error
}

// New returns an unconfigured Sink that logs to stderr.
func New() *Sink {
	return &Sink{
		logger: hclog.New(&hclog.LoggerOptions{Name: "sink." + Name, JSONFormat: true, Output: os.Stderr}),
		now:    time.Now,
		files:  make(map[string]*rotator),
		host:   uint64(os.Getppid()),
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
	return &rotator{path: path, maxSize: cfg.maxSize, maxBackups: cfg.maxBackups, maxAge: cfg.maxAge, now: s.now, fsync: s.fsync, write: s.writeFile}
}

// Write appends the batch's lines and events to their files and writes the
// buffers out before it returns. Within the batch, an event is written
// after the lines that are not younger than it. Every file of the batch is
// opened (and its directory created) before anything is written, so a
// file that cannot be opened fails the batch without writing any of it.
// A batch with the Seq of the last one recorded is an earlier attempt
// sent again: what that attempt wrote is taken back first.
func (s *Sink) Write(ctx context.Context, b *sdk.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.openState(ctx); err != nil {
		return err
	}
	if s.last.valid && s.last.seq == b.Seq {
		if err := s.takeBack(); err != nil {
			return err
		}
	}
	err := s.writeBatch(b)
	for _, r := range s.dirty {
		if err != nil {
			// The host sends the batch again.
			r.discard()
		}
		r.inBatch, r.pending = false, 0
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

// openState opens the state file at the first Write, and reads back the
// record left there by an earlier plugin of the same prox. A sink that
// cannot keep the state file writes at least once, and says so once.
func (s *Sink) openState(ctx context.Context) error {
	if s.stateTried {
		return nil
	}
	if !stateSupported || !s.cfg.perProcess && s.combined.special {
		// Nothing to truncate: /dev/stdout, a pipe.
		s.stateTried = true
		return nil
	}
	path := statePath(s.cfg.path, s.cfg.perProcess)
	st, data, err := openStateFile(ctx, path)
	if err != nil {
		if ctx.Err() != nil {
			return err // try again with the resent batch
		}
		s.stateTried = true
		s.logger.Warn("cannot keep the state file: a batch sent again after a failure may repeat lines", "state_file", path, "error", err)
		return nil
	}
	s.stateTried = true
	st.write = s.writeState
	s.state = st
	rec, err := decodeState(data)
	switch {
	case err != nil:
		// None yet, or one cut by a kill before its batch began.
	case rec.host != s.host:
		// An earlier prox ended (killed) while its plugin wrote this
		// batch: prox will not send it again, but a line it cut stays
		// at the end of the file. Cut it off.
		for i := range rec.files {
			e := &rec.files[i]
			n, err := cutTornTail(e)
			if err != nil {
				s.logger.Warn("cannot remove the cut line an earlier prox left", "path", e.path, "error", err)
			} else if n > 0 {
				s.logger.Warn("removed the cut line an earlier prox left at the end of the file", "path", e.path, "bytes", n)
			}
		}
	default:
		s.last = rec
	}
	return nil
}

// takeBack truncates the files of the recorded batch back to their sizes
// before it.
func (s *Sink) takeBack() error {
	for i := range s.last.files {
		e := &s.last.files[i]
		// A file open here is reopened at its new size.
		s.each(func(r *rotator) {
			if r.path == e.path && r.f != nil {
				r.closeFile()
			}
		})
		n, warning, err := truncateBack(e)
		if err != nil {
			return err
		}
		if warning != "" {
			s.logger.Warn(warning, "path", e.path, "seq", s.last.seq)
		} else if n > 0 {
			s.logger.Info("batch sent again: its earlier attempt taken back", "path", e.path, "seq", s.last.seq, "bytes", n, "offset", e.start)
		}
	}
	return nil
}

// writeBatch writes the batch in four steps: measure what it writes to
// each file (opening them all), rotate the files it would overfill,
// record the batch in the state file, then format and write it.
func (s *Sink) writeBatch(b *sdk.Batch) error {
	if err := s.measure(b); err != nil {
		return err
	}
	for _, r := range s.dirty {
		if err := r.rotateFor(r.pending); err != nil {
			return err
		}
	}
	if err := s.record(b.Seq); err != nil {
		return err
	}
	if err := s.walk(b, false); err != nil {
		return err
	}
	for _, r := range s.dirty {
		if err := r.flush(); err != nil {
			return err
		}
	}
	return nil
}

// measure adds up what the batch writes to each file, opening them all,
// and lists them in s.dirty. A batch of lines only (the usual one) takes
// a loop of its own, without walk's merge.
func (s *Sink) measure(b *sdk.Batch) error {
	if len(b.Events) > 0 && s.cfg.events {
		return s.walk(b, true)
	}
	if len(b.Entries) == 0 {
		return nil
	}
	var (
		r        *rotator
		lastName string
	)
	if !s.cfg.perProcess {
		if err := s.combined.ensureOpen(); err != nil {
			return err
		}
		r = s.combined
		r.inBatch = true
		s.dirty = append(s.dirty, r)
	}
	perProcess, timestamp, processPrefix, streamPrefix := s.cfg.perProcess, s.cfg.timestamp, s.cfg.processPrefix, s.cfg.streamPrefix
	pending := int64(0)
	for i := range b.Entries {
		e := &b.Entries[i]
		if perProcess && (r == nil || e.Process != lastName) {
			if r != nil {
				r.pending += pending
				pending = 0
			}
			var err error
			if r, err = s.perProcessFile(e.Process); err != nil {
				return err
			}
			lastName = e.Process
			if !r.inBatch {
				r.inBatch = true
				s.dirty = append(s.dirty, r)
			}
		}
		n := len(e.Line) + 1
		if timestamp {
			n += s.stamper.len(e.Timestamp) + 1
		}
		if processPrefix {
			n += len(e.Process) + len(" | ")
		}
		if streamPrefix {
			n += len(e.Stream.String()) + 1
		}
		pending += int64(n)
	}
	r.pending += pending
	return nil
}

// record writes the state record of batch seq: its regular files, each
// with its size before and after the batch.
func (s *Sink) record(seq uint64) error {
	if s.state == nil {
		return nil
	}
	rec := &s.next
	rec.seq, rec.host, rec.files, rec.valid = seq, s.host, rec.files[:0], true
	for _, r := range s.dirty {
		if !r.special {
			rec.files = append(rec.files, stateEntry{path: r.path, dev: r.dev, ino: r.ino, start: r.size, end: r.size + r.pending})
		}
	}
	if len(rec.files) == 0 {
		return nil
	}
	s.stateBuf = rec.appendTo(s.stateBuf[:0])
	if err := s.state.store(s.stateBuf); err != nil {
		return fmt.Errorf("failed to write the state file: %w", err)
	}
	s.last, s.next = s.next, s.last
	return nil
}

// walk merges entries and events by time and, when measuring, adds up
// what each record writes to its file (opening the files; see measure);
// otherwise it formats them into the files' buffers.
func (s *Sink) walk(b *sdk.Batch, measuring bool) error {
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
		var (
			r       *rotator
			err     error
			ts      time.Time
			process string
			stream  string
			line    []byte
		)
		if j < len(events) && (i == len(entries) || events[j].Timestamp.Before(entries[i].Timestamp)) {
			ev := &events[j]
			j++
			s.event = appendEvent(s.event[:0], ev)
			ts, process, line = ev.Timestamp, ev.Process, s.event
		} else {
			e := &entries[i]
			i++
			ts, process, stream, line = e.Timestamp, e.Process, e.Stream.String(), e.Line
		}
		if r, err = s.fileFor(process, &lastName, &last); err != nil {
			return err
		}
		if measuring {
			if !r.inBatch {
				r.inBatch = true
				s.dirty = append(s.dirty, r)
			}
			r.pending += int64(s.recordLen(ts, process, stream, line))
			continue
		}
		if err := s.writeRecord(r, ts, process, stream, line); err != nil {
			return err
		}
	}
	return nil
}

// recordLen is the length of a record as writeRecord formats it.
func (s *Sink) recordLen(ts time.Time, process, stream string, line []byte) int {
	n := len(line) + 1
	if s.cfg.timestamp {
		n += s.stamper.len(ts) + 1
	}
	if s.cfg.processPrefix {
		n += len(process) + len(" | ")
	}
	if s.cfg.streamPrefix && stream != "" {
		n += len(stream) + 1
	}
	return n
}

// writeRecord formats one line with its prefixes into r's buffer. stream is
// empty for events, which get no stream prefix.
func (s *Sink) writeRecord(r *rotator, ts time.Time, process, stream string, line []byte) error {
	if err := r.reserve(s.recordLen(ts, process, stream, line)); err != nil {
		return err
	}
	buf := r.buf
	if s.cfg.timestamp {
		buf = s.stamper.append(buf, ts)
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
		if err := s.combined.ensureOpen(); err != nil {
			return nil, err
		}
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
	err := s.all((*rotator).close)
	if s.state != nil {
		// Unlocks it for the plugin that may replace this one.
		if cerr := s.state.close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("failed to close the state file: %w", cerr))
		}
		s.state = nil
	}
	return err
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
