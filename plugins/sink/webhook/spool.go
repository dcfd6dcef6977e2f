package webhook

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

// spool is the queue of a sink's undelivered alerts, on disk, in one
// folder that one sink uses at a time:
//
//   - lock: locked (flock) by the sink that uses the folder; it holds the
//     PID and parent PID of that sink's process, so that a second sink of
//     the same prox is told apart from another prox (`prox validate`).
//   - NNNNNNNNNNNNNNNNNNNN.alert: one record per batch that raised alerts:
//     a line of JSON (recordHeader), then the request body, byte for
//     byte.
//
// append writes a record to a temporary file, syncs it, renames it and
// syncs the folder: once it returns, the record survives a crash of the
// plugin, of prox or of the machine; a crash in between leaves a temporary
// file, removed by the next load, and no record. A record is removed once
// delivered or dropped. It is safe for concurrent use.
type spool struct {
	dir string
	// max is the most alerts the records may hold together.
	max int

	// lockFile is the held lock, nil before lock succeeds and after
	// unlock.
	lockFile *os.File

	mu      sync.Mutex
	records []*record
	alerts  int
	next    uint64
	// added gets a value, without blocking, when a record is added.
	added chan struct{}
}

// record is one spooled request.
type record struct {
	seq    uint64
	header recordHeader
}

// recordHeader is the first line of a record's file.
type recordHeader struct {
	// Key is the request's Idempotency-Key, the same on every attempt.
	Key string `json:"key"`
	// Time is when the record was spooled; retry_for counts from it.
	Time time.Time `json:"time"`
	// Alerts is how many alerts the body holds.
	Alerts int `json:"alerts"`
}

func newSpool(dir string, maxAlerts int) *spool {
	return &spool{dir: dir, max: maxAlerts, next: 1, added: make(chan struct{}, 1)}
}

// errLocked means the lock is held by another open file description.
var errLocked = errors.New("locked")

// spoolBusyError means another sink holds the spool's lock.
type spoolBusyError struct {
	// pid and ppid are the holder's process and its parent, 0 when
	// unknown.
	pid, ppid int
}

func (e *spoolBusyError) Error() string {
	if e.pid == 0 {
		return "in use by another webhook sink"
	}
	return fmt.Sprintf("in use by another webhook sink (process %d)", e.pid)
}

// sameProx reports whether the holder is a sink of the prox this process
// belongs to: this process itself, or a sibling (the same parent).
func (e *spoolBusyError) sameProx() bool {
	return e.pid == os.Getpid() || (e.ppid > 1 && e.ppid == os.Getppid())
}

// lock creates the folder (and its parents, mode 0700: alerts carry log
// lines) and takes its lock. It returns a *spoolBusyError when another
// sink holds it.
func (sp *spool) lock() error {
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
			return readHolder(f)
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

func readHolder(f *os.File) *spoolBusyError {
	e := &spoolBusyError{}
	b, err := io.ReadAll(io.LimitReader(f, 64))
	if err != nil {
		return e
	}
	fields := strings.Fields(string(b))
	if len(fields) == 2 {
		e.pid, _ = strconv.Atoi(fields[0])
		e.ppid, _ = strconv.Atoi(fields[1])
	}
	return e
}

// unlock releases the lock; the records stay for the next sink.
func (sp *spool) unlock() {
	if sp.lockFile != nil {
		_ = sp.lockFile.Close()
		sp.lockFile = nil
	}
}

// load reads the records left by an earlier sink, after lock. A record it
// cannot read is logged at ERROR, removed and counted in the result.
func (sp *spool) load(logger hclog.Logger) (unreadable int, err error) {
	entries, err := os.ReadDir(sp.dir)
	if err != nil {
		return 0, fmt.Errorf("failed to read the folder: %w", err)
	}
	var recs []*record
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
			recs = append(recs, &record{seq: seq, header: h})
		}
	}
	slices.SortFunc(recs, func(a, b *record) int { return cmpUint(a.seq, b.seq) })
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.records = recs
	sp.alerts = 0
	for _, r := range recs {
		sp.alerts += r.header.Alerts
		sp.next = max(sp.next, r.seq+1)
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

func readHeader(path string) (recordHeader, error) {
	var h recordHeader
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

func (sp *spool) path(seq uint64, ext string) string {
	return filepath.Join(sp.dir, fmt.Sprintf("%020d%s", seq, ext))
}

// room returns how many more alerts the spool takes.
func (sp *spool) room() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return max(sp.max-sp.alerts, 0)
}

// append writes a record of n alerts with body, durably, under a new
// idempotency key, and returns it.
func (sp *spool) append(body []byte, n int, now time.Time) (*record, error) {
	h := recordHeader{Key: newKey(), Time: now.UTC(), Alerts: n}
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
	rec := &record{seq: seq, header: h}
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

// head returns the oldest record, or nil.
func (sp *spool) head() *record {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.records) == 0 {
		return nil
	}
	return sp.records[0]
}

// counts returns how many records and alerts the spool holds.
func (sp *spool) counts() (records, alerts int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.records), sp.alerts
}

// body reads a record's request body.
func (sp *spool) body(rec *record) ([]byte, error) {
	b, err := os.ReadFile(sp.path(rec.seq, recordExt))
	if err != nil {
		return nil, err
	}
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, errors.New("no header line")
	}
	return b[i+1:], nil
}

// remove removes the head record, rec.
func (sp *spool) remove(rec *record) error {
	sp.mu.Lock()
	if len(sp.records) > 0 && sp.records[0] == rec {
		sp.records = sp.records[1:]
		sp.alerts -= rec.header.Alerts
	}
	sp.mu.Unlock()
	// Not synced: a record that comes back after a crash is sent again
	// with its key, which a receiver can de-duplicate.
	if err := os.Remove(sp.path(rec.seq, recordExt)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// expired returns the records at the head of the spool that were spooled
// before cutoff, oldest first.
func (sp *spool) expired(cutoff time.Time) []*record {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	n := 0
	for n < len(sp.records) && sp.records[n].header.Time.Before(cutoff) {
		n++
	}
	return slices.Clone(sp.records[:n])
}

// drop removes records, the head of the spool (as expired returned them).
func (sp *spool) drop(records []*record) {
	for _, r := range records {
		_ = sp.remove(r)
	}
}

// newKey returns a random UUID (version 4): a request's Idempotency-Key.
func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
