package alerting

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// The spool's files. A record's name is its sequence number in 20 digits,
// so that names sort as the numbers do.
const (
	recordExt = ".alert"
	tempExt   = ".tmp"
	lockName  = "lock"
	// maxHeader bounds a record's first line.
	maxHeader = 4 << 10
)

// Spool is the queue of a sink's undelivered alerts, on disk, in one
// folder that one sink uses at a time:
//
//   - lock: locked (flock) by the sink that uses the folder; it holds the
//     PID and parent PID of that sink's process, so that a second sink of
//     the same prox is told apart from another prox (`prox validate`).
//   - NNNNNNNNNNNNNNNNNNNN.alert: one record per batch that raised alerts:
//     a line of JSON (RecordHeader), then the request body, byte for
//     byte.
//
// Append writes a record to a temporary file, syncs it, renames it and
// syncs the folder: once it returns, the record survives a crash of the
// plugin, of prox or of the machine; a crash in between leaves a temporary
// file, removed by the next load, and no record. A record is removed once
// delivered or dropped. It is safe for concurrent use.
type Spool struct {
	dir string
	// kind names the sink in errors ("webhook").
	kind string
	// max is the most alerts the records may hold together.
	max int

	// lockFile is the held lock, nil before lock succeeds and after
	// unlock.
	lockFile *os.File

	mu      sync.Mutex
	records []*Record
	alerts  int
	next    uint64
	// added gets a value, without blocking, when a record is added.
	added chan struct{}
}

// Record is one spooled request.
type Record struct {
	// Seq is its sequence number, which names its file.
	Seq uint64
	// Header is its file's first line.
	Header RecordHeader
}

// RecordHeader is the first line of a record's file.
type RecordHeader struct {
	// Key is the request's Idempotency-Key, the same on every attempt.
	Key string `json:"key"`
	// Time is when the record was spooled; retry_for counts from it.
	Time time.Time `json:"time"`
	// Alerts is how many alerts the body holds.
	Alerts int `json:"alerts"`
}

// NewSpool returns the spool in folder dir, holding at most maxAlerts
// alerts, of a sink of the kind named (for errors, e.g. "webhook"). It
// touches nothing on disk before Lock.
func NewSpool(dir string, maxAlerts int, kind string) *Spool {
	return &Spool{dir: dir, kind: kind, max: maxAlerts, next: 1, added: make(chan struct{}, 1)}
}

// errLocked means the lock is held by another open file description.
var errLocked = errors.New("locked")

// BusyError means another sink holds the spool's lock.
type BusyError struct {
	// Kind names the sink ("webhook").
	Kind string
	// PID and PPID are the holder's process and its parent, 0 when
	// unknown.
	PID, PPID int
}

// Error says that another sink of the kind holds the spool.
func (e *BusyError) Error() string {
	if e.PID == 0 {
		return "in use by another " + e.Kind + " sink"
	}
	return fmt.Sprintf("in use by another %s sink (process %d)", e.Kind, e.PID)
}

// SameProx reports whether the holder is a sink of the prox this process
// belongs to: this process itself, or a sibling (the same parent).
func (e *BusyError) SameProx() bool {
	return e.PID == os.Getpid() || (e.PPID > 1 && e.PPID == os.Getppid())
}

// Lock creates the folder (and its parents, mode 0700: alerts carry log
// lines) and takes its lock. It returns a *BusyError when another
// sink holds it.
func (sp *Spool) Lock() error {
	if sp.lockFile != nil {
		return nil
	}
	if err := os.MkdirAll(sp.dir, 0o700); err != nil {
		return fmt.Errorf("failed to create the folder: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(sp.dir, lockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("failed to open its lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		defer f.Close()
		if errors.Is(err, errLocked) {
			e := readHolder(f)
			e.Kind = sp.kind
			return e
		}
		return fmt.Errorf("failed to lock it: %w", err)
	}
	// Who holds it, for the next one that tries. Best effort: a reader
	// that finds nothing takes the holder for another prox's.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(fmt.Appendf(nil, "%d %d\n", os.Getpid(), os.Getppid()), 0)
	}
	sp.lockFile = f
	return nil
}

func readHolder(f *os.File) *BusyError {
	e := &BusyError{}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return e
	}
	fields := strings.Fields(string(b))
	if len(fields) == 2 {
		e.PID, _ = strconv.Atoi(fields[0])
		e.PPID, _ = strconv.Atoi(fields[1])
	}
	return e
}

// Unlock releases the lock; the records stay for the next sink.
func (sp *Spool) Unlock() {
	if sp.lockFile != nil {
		_ = sp.lockFile.Close()
		sp.lockFile = nil
	}
}

// Load reads the records left by an earlier sink, after Lock. A record it
// cannot read is logged at ERROR, removed and counted in the result.
func (sp *Spool) Load(logger hclog.Logger) (unreadable int, err error) {
	entries, err := os.ReadDir(sp.dir)
	if err != nil {
		return 0, fmt.Errorf("failed to read the folder: %w", err)
	}
	var recs []*Record
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(sp.dir, name)
		switch {
		case strings.HasSuffix(name, tempExt):
			// An append that a crash cut short: it was never
			// acknowledged.
			_ = os.Remove(path)
		case strings.HasSuffix(name, recordExt):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, recordExt), 10, 64)
			if err != nil {
				continue // not one of ours
			}
			h, err := readHeader(path)
			if err != nil {
				logger.Error("an alert record in the spool is unreadable; removing it", "file", path, "error", err)
				_ = os.Remove(path)
				unreadable++
				continue
			}
			recs = append(recs, &Record{Seq: seq, Header: h})
		}
	}
	slices.SortFunc(recs, func(a, b *Record) int { return cmpUint(a.Seq, b.Seq) })
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.records = recs
	sp.alerts = 0
	for _, r := range recs {
		sp.alerts += r.Header.Alerts
		sp.next = max(sp.next, r.Seq+1)
	}
	return unreadable, nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func readHeader(path string) (RecordHeader, error) {
	var h RecordHeader
	f, err := os.Open(path)
	if err != nil {
		return h, err
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(io.LimitReader(f, maxHeader), maxHeader).ReadSlice('\n')
	if err != nil {
		return h, fmt.Errorf("no header line: %w", err)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return h, fmt.Errorf("bad header line: %w", err)
	}
	if h.Key == "" || h.Alerts < 1 || h.Time.IsZero() {
		return h, errors.New("incomplete header line")
	}
	return h, nil
}

func (sp *Spool) path(seq uint64, ext string) string {
	return filepath.Join(sp.dir, fmt.Sprintf("%020d%s", seq, ext))
}

// Room returns how many more alerts the spool takes.
func (sp *Spool) Room() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return max(sp.max-sp.alerts, 0)
}

// Append writes a record of n alerts with body, durably, under a new
// idempotency key, and returns it.
func (sp *Spool) Append(body []byte, n int, now time.Time) (*Record, error) {
	h := RecordHeader{Key: NewKey(), Time: now.UTC(), Alerts: n}
	line, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("failed to encode a record: %w", err)
	}
	sp.mu.Lock()
	seq := sp.next
	sp.next++
	sp.mu.Unlock()

	tmp, final := sp.path(seq, tempExt), sp.path(seq, recordExt)
	data := make([]byte, 0, len(line)+1+len(body))
	data = append(append(append(data, line...), '\n'), body...)
	if err := writeSynced(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("failed to write a record: %w", err)
	}
	// The rename is durable once the folder is synced.
	if err := syncDir(sp.dir); err != nil {
		_ = os.Remove(final)
		return nil, err
	}
	rec := &Record{Seq: seq, Header: h}
	sp.mu.Lock()
	sp.records = append(sp.records, rec)
	sp.alerts += n
	sp.mu.Unlock()
	select {
	case sp.added <- struct{}{}:
	default:
	}
	return rec, nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("failed to write a record: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to write a record: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("failed to sync the folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("failed to sync the folder: %w", err)
	}
	return nil
}

// Head returns the oldest record, or nil.
func (sp *Spool) Head() *Record {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.records) == 0 {
		return nil
	}
	return sp.records[0]
}

// Counts returns how many records and alerts the spool holds.
func (sp *Spool) Counts() (records, alerts int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.records), sp.alerts
}

// Body reads a record's request body.
func (sp *Spool) Body(rec *Record) ([]byte, error) {
	b, err := os.ReadFile(sp.path(rec.Seq, recordExt))
	if err != nil {
		return nil, err
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, errors.New("no header line")
	}
	return b[i+1:], nil
}

// Remove removes the head record, rec.
func (sp *Spool) Remove(rec *Record) error {
	sp.mu.Lock()
	if len(sp.records) > 0 && sp.records[0] == rec {
		sp.records = sp.records[1:]
		sp.alerts -= rec.Header.Alerts
	}
	sp.mu.Unlock()
	// Not synced: a record that comes back after a crash is sent again
	// with its key, which a receiver can de-duplicate.
	if err := os.Remove(sp.path(rec.Seq, recordExt)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Expired returns the records at the head of the spool that were spooled
// before cutoff, oldest first.
func (sp *Spool) Expired(cutoff time.Time) []*Record {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := 0
	for n < len(sp.records) && sp.records[n].Header.Time.Before(cutoff) {
		n++
	}
	return slices.Clone(sp.records[:n])
}

// Drop removes records, the head of the spool (as Expired returned them).
func (sp *Spool) Drop(records []*Record) {
	for _, r := range records {
		_ = sp.Remove(r)
	}
}

// NewKey returns a random UUID (version 4): a request's Idempotency-Key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
