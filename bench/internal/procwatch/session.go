package procwatch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrTimeout is returned by Until when the condition did not hold in time.
var ErrTimeout = errors.New("timed out")

// active serialises sessions: the reaper waits for any child.
var active sync.Mutex

var subreaper = sync.OnceValue(func() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("become a child subreaper: %w", err)
	}
	return nil
})

// Options describe the supervisor to run.
type Options struct {
	// Argv is the supervisor's command line; Argv[0] is looked up in PATH.
	Argv []string
	// Dir is its working directory; default the current one.
	Dir string
	// Env is its environment; default this process's.
	Env []string
	// Stdout and Stderr are files that receive its output (created or
	// truncated); default /dev/null.
	Stdout, Stderr string
	// ReadyDir is a folder in which workload processes announce themselves
	// (see package workload); a file named after a PID makes that process
	// watched until it exits. Optional.
	ReadyDir string
	// Workload lists the command names (comm) of workload processes; every
	// other descendant belongs to the supervisor.
	Workload []string
	// Poll is how often Until evaluates its condition; default 5ms.
	Poll time.Duration
}

// State is what the session knows without reading /proc.
type State struct {
	// Ready is the number of files in ReadyDir.
	Ready int
	// Alive and Gone count the watched workload processes.
	Alive, Gone int
	// Exited is true once the supervisor has been reaped.
	Exited bool
}

// Proc is one process of the supervisor's side.
type Proc struct {
	// PID and Comm identify it.
	PID  int    `json:"pid"`
	Comm string `json:"comm"`
	// RSS is its resident set in bytes, CPU its own user and system time
	// in seconds.
	RSS int64   `json:"rss_bytes"`
	CPU float64 `json:"cpu_s"`
	// PSS is its proportional set size in bytes (0 when unreadable).
	PSS int64 `json:"pss_bytes"`
	// Anon is the anonymous part of RSS in bytes (RssAnon: heap, stacks;
	// 0 when unreadable); the rest is mostly its binary's pages.
	Anon int64 `json:"anon_bytes"`
	// Parent is its parent's PID.
	Parent int `json:"ppid"`
}

// Sample is a reading of the supervisor's side from /proc.
type Sample struct {
	// At is when the sample was taken.
	At time.Time `json:"at"`
	// Procs are the supervisor's processes (itself, its plugins, helper
	// shells), RSS and CPU their sums.
	Procs []Proc  `json:"procs"`
	RSS   int64   `json:"rss_bytes"`
	CPU   float64 `json:"cpu_s"`
	PSS   int64   `json:"pss_bytes"`
	Anon  int64   `json:"anon_bytes"`
	// Workload counts the live workload processes found.
	Workload int `json:"workload"`
}

// Report is the outcome of a session.
type Report struct {
	// Argv is the supervisor's command line, Start when it was started.
	Argv  []string  `json:"argv"`
	Start time.Time `json:"start"`
	// Exit is when the supervisor was reaped, ExitStatus how it ended.
	Exit       time.Time `json:"exit"`
	ExitStatus string    `json:"exit_status"`
	// Killed is true when the supervisor did not exit in time and was
	// killed.
	Killed bool `json:"killed"`
	// TreeCPU is the user and system time of every process reaped: the
	// supervisor and all its descendants (workload included).
	TreeUser float64 `json:"tree_user_s"`
	TreeSys  float64 `json:"tree_sys_s"`
	// Orphans are the processes that outlived their parent and were
	// reaped here.
	Orphans []string `json:"orphans,omitempty"`
	// Survivors were still alive the grace period after the supervisor
	// exited; they were then killed.
	Survivors         []string `json:"survivors,omitempty"`
	WorkloadSurvivors int      `json:"workload_survivors"`
	// PeakRSS is the highest sampled sum of the supervisor's processes'
	// resident sets; HWM the sum of each one's own peak (VmHWM).
	PeakRSS int64 `json:"peak_rss_bytes"`
	HWM     int64 `json:"hwm_bytes"`
	// PeakPSS is the highest sampled sum of their proportional set sizes:
	// the pages of the binary they share count once, not once each.
	PeakPSS int64 `json:"peak_pss_bytes"`
	Samples int   `json:"samples"`
	// WatchCPU is the CPU time the measuring process spent meanwhile.
	WatchCPU float64 `json:"watch_cpu_s"`
}

// TreeCPU returns TreeUser + TreeSys.
func (r *Report) TreeCPU() float64 { return r.TreeUser + r.TreeSys }

// known is a process seen while sampling.
type known struct {
	comm     string
	workload bool
	parent   int
	hwm      int64
	lastSeen int // sample number
}

// Session is a supervisor running under measurement.
type Session struct {
	opts     Options
	pid      int
	start    time.Time
	selfCPU0 float64

	exits *exitWatcher
	ready *readyWatcher

	mu        sync.Mutex
	exitCh    chan struct{}
	exitAt    time.Time
	status    unix.WaitStatus
	reaped    map[int]bool
	orphans   []string
	user, sys float64
	reaperOut chan struct{}

	sampleMu sync.Mutex
	procs    map[int]*known
	samples  int
	peakRSS  int64
	peakPSS  int64
	buf      []byte
	stopBg   chan struct{}
	bgDone   chan struct{}

	finishOnce sync.Once
	report     *Report
}

// Start starts the supervisor. The caller must call Finish.
func Start(o Options) (*Session, error) {
	if len(o.Argv) == 0 {
		return nil, errors.New("no command")
	}
	if err := subreaper(); err != nil {
		return nil, err
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Millisecond
	}
	path, err := exec.LookPath(o.Argv[0])
	if err != nil {
		return nil, fmt.Errorf("supervisor: %w", err)
	}
	active.Lock()
	s := &Session{
		opts: o, exitCh: make(chan struct{}), reaped: map[int]bool{}, reaperOut: make(chan struct{}),
		procs: map[int]*known{}, buf: make([]byte, 16<<10),
	}
	ok := false
	defer func() {
		if !ok {
			s.release()
			active.Unlock()
		}
	}()
	if s.exits, err = newExitWatcher(); err != nil {
		return nil, err
	}
	if o.ReadyDir != "" {
		if s.ready, err = newReadyWatcher(o.ReadyDir, s.exits.track); err != nil {
			return nil, err
		}
	}
	files, err := s.openFiles()
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, f := range files {
			_ = f.Close()
		}
	}()
	s.selfCPU0 = selfCPU()
	s.start = time.Now()
	p, err := os.StartProcess(path, o.Argv, &os.ProcAttr{
		Dir: o.Dir, Env: o.Env, Files: files,
		// Its own process group: a terminal's Ctrl-C reaches the bench only.
		Sys: &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", o.Argv[0], err)
	}
	s.pid = p.Pid
	_ = p.Release() // reaped by the reaper, not through os.Process
	go s.reap()
	ok = true
	return s, nil
}

func (s *Session) openFiles() ([]*os.File, error) {
	open := func(path string, flag int) (*os.File, error) {
		if path == "" {
			path = os.DevNull
		}
		return os.OpenFile(path, flag, 0o644)
	}
	stdin, err := open("", os.O_RDONLY)
	if err != nil {
		return nil, err
	}
	stdout, err := open(s.opts.Stdout, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("stdout: %w", err)
	}
	stderr := stdout
	if s.opts.Stderr != s.opts.Stdout || s.opts.Stdout == "" {
		if stderr, err = open(s.opts.Stderr, os.O_WRONLY|os.O_CREATE|os.O_TRUNC); err != nil {
			_ = stdin.Close()
			_ = stdout.Close()
			return nil, fmt.Errorf("stderr: %w", err)
		}
	}
	return []*os.File{stdin, stdout, stderr}, nil
}

// reap waits for every child until none is left.
func (s *Session) reap() {
	defer close(s.reaperOut)
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		pid, err := unix.Wait4(-1, &ws, 0, &ru)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // ECHILD: nothing is left
		}
		now := time.Now()
		s.mu.Lock()
		s.user += tv(ru.Utime)
		s.sys += tv(ru.Stime)
		s.reaped[pid] = true
		if pid == s.pid {
			s.exitAt = now
			s.status = ws
			close(s.exitCh)
		} else {
			s.orphans = append(s.orphans, s.describe(pid))
		}
		s.mu.Unlock()
	}
}

func tv(t unix.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func selfCPU() float64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

// describe names pid by what sampling learnt of it.
func (s *Session) describe(pid int) string {
	s.sampleMu.Lock()
	defer s.sampleMu.Unlock()
	if k, ok := s.procs[pid]; ok {
		return fmt.Sprintf("%s[%d]", k.comm, pid)
	}
	return fmt.Sprintf("[%d]", pid)
}

// PID returns the supervisor's process ID.
func (s *Session) PID() int { return s.pid }

// Started returns the time just before the supervisor was started.
func (s *Session) Started() time.Time { return s.start }

// State returns what is known now.
func (s *Session) State() State {
	st := State{}
	if s.ready != nil {
		st.Ready = s.ready.count()
	}
	st.Alive, st.Gone = s.exits.counts()
	select {
	case <-s.exitCh:
		st.Exited = true
	default:
	}
	return st
}

// Track watches pid until it exits, as if it had marked itself ready.
func (s *Session) Track(pid int) { s.exits.track(pid) }

// Until waits until cond holds, evaluating it every Poll, for at most
// timeout; it returns the last state and ErrTimeout if cond never held.
func (s *Session) Until(timeout time.Duration, cond func(State) bool) (State, error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(s.opts.Poll)
	defer t.Stop()
	exited := s.exitCh // re-evaluate at once when the supervisor exits
	for {
		st := s.State()
		if cond(st) {
			return st, nil
		}
		if !time.Now().Before(deadline) {
			return st, ErrTimeout
		}
		select {
		case <-t.C:
		case <-exited:
			exited = nil
		}
	}
}

// Exit returns the time the supervisor was reaped, if it was.
func (s *Session) Exit() (time.Time, bool) {
	select {
	case <-s.exitCh:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.exitAt, true
	default:
		return time.Time{}, false
	}
}

// LastWorkloadExit returns when the last watched workload process exited.
func (s *Session) LastWorkloadExit() time.Time { return s.exits.lastExit() }

// Signal sends sig to the supervisor process (not its group) and returns
// the time just before it was sent.
func (s *Session) Signal(sig syscall.Signal) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reaped[s.pid] {
		return time.Time{}, errors.New("the supervisor has exited")
	}
	at := time.Now()
	if err := unix.Kill(s.pid, sig); err != nil {
		return at, fmt.Errorf("signal supervisor: %w", err)
	}
	return at, nil
}

// Sample reads the supervisor's side from /proc. With persistent set, a
// process counts only once it has been seen by the previous sample too,
// which leaves out children caught between fork and exec (whose memory is
// still their parent's).
func (s *Session) Sample(persistent bool) Sample {
	s.sampleMu.Lock()
	defer s.sampleMu.Unlock()
	s.samples++
	now := time.Now()
	smp := Sample{At: now}
	workload := map[string]bool{}
	for _, c := range s.opts.Workload {
		workload[c] = true
	}
	queue := children(os.Getpid(), s.buf)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		k := s.procs[pid]
		if k != nil && k.workload {
			// A workload process does not turn back into anything else.
			k.lastSeen = s.samples
			if !s.exits.gone(pid) {
				smp.Workload++
			}
			continue
		}
		st, err := readStat(pid, s.buf)
		if err != nil || st.state == 'Z' || st.state == 'X' {
			continue
		}
		if k == nil {
			k = &known{lastSeen: -1}
			s.procs[pid] = k
		}
		prev := k.lastSeen
		k.comm, k.parent, k.lastSeen = st.comm, st.ppid, s.samples
		if workload[st.comm] {
			k.workload = true
			smp.Workload++
			s.exits.track(pid)
			continue
		}
		queue = append(queue, children(pid, s.buf)...)
		if s.transient(pid, st) || persistent && prev != s.samples-1 {
			continue
		}
		mem, _ := readStatus(pid, s.buf)
		if mem.hwm > k.hwm {
			k.hwm = mem.hwm
		}
		pss, _ := readPSS(pid, s.buf)
		smp.Procs = append(smp.Procs, Proc{PID: pid, Comm: st.comm, RSS: st.rss, CPU: st.cpu, PSS: pss, Anon: mem.anon, Parent: st.ppid})
		smp.RSS += st.rss
		smp.CPU += st.cpu
		smp.PSS += pss
		smp.Anon += mem.anon
	}
	slices.SortFunc(smp.Procs, func(a, b Proc) int { return a.PID - b.PID })
	if smp.RSS > s.peakRSS {
		s.peakRSS = smp.RSS
	}
	if smp.PSS > s.peakPSS {
		s.peakPSS = smp.PSS
	}
	return smp
}

// transient reports whether pid looks like a child caught between fork and
// exec: one thread, and its parent's command name. Its memory is (a copy
// of) its parent's, so counting it would count the parent twice. A helper
// that stays a copy of its parent this way (a subshell) is missed too,
// which is the lesser error.
func (s *Session) transient(pid int, st procStat) bool {
	if pid == s.pid || st.threads > 1 {
		return false
	}
	parent := s.procs[st.ppid]
	return parent != nil && parent.comm == st.comm
}

// SampleEvery samples in the background every d until Finish, for the
// peak of the supervisor's memory.
func (s *Session) SampleEvery(d time.Duration) {
	if s.stopBg != nil {
		return
	}
	s.stopBg, s.bgDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.bgDone)
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			s.Sample(true)
			select {
			case <-t.C:
			case <-s.stopBg:
				return
			}
		}
	}()
}

// Finish waits up to exitTimeout for the supervisor to exit (then kills
// it), waits up to grace for everything it started to be gone, kills and
// reports whatever survived, and releases the session. Later calls return
// the first call's report.
func (s *Session) Finish(exitTimeout, grace time.Duration) *Report {
	s.finishOnce.Do(func() {
		defer active.Unlock()
		s.report = s.finish(exitTimeout, grace)
	})
	return s.report
}

func (s *Session) finish(exitTimeout, grace time.Duration) *Report {
	rep := &Report{Argv: s.opts.Argv, Start: s.start}
	select {
	case <-s.exitCh:
	case <-time.After(exitTimeout):
		rep.Killed = true
		_ = unix.Kill(-s.pid, unix.SIGKILL)
		_ = unix.Kill(s.pid, unix.SIGKILL)
		<-s.exitCh
	}
	if s.stopBg != nil {
		close(s.stopBg)
		<-s.bgDone
	}
	// Everything left is a descendant of ours: wait for it to go.
	deadline := time.Now().Add(grace)
	var left []int
	for {
		left = s.descendants()
		if len(left) == 0 || !time.Now().Before(deadline) {
			break
		}
		select {
		case <-s.reaperOut:
		case <-time.After(10 * time.Millisecond):
		}
	}
	rep.WorkloadSurvivors = len(s.exits.alivePIDs())
	for _, pid := range left {
		rep.Survivors = append(rep.Survivors, s.describe(pid))
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	select {
	case <-s.reaperOut:
	case <-time.After(30 * time.Second):
	}
	s.mu.Lock()
	rep.Exit = s.exitAt
	rep.ExitStatus = statusString(s.status)
	rep.TreeUser, rep.TreeSys = s.user, s.sys
	rep.Orphans = s.orphans
	s.mu.Unlock()
	s.sampleMu.Lock()
	rep.PeakRSS, rep.PeakPSS, rep.Samples = s.peakRSS, s.peakPSS, s.samples
	for _, k := range s.procs {
		if !k.workload {
			rep.HWM += k.hwm
		}
	}
	s.sampleMu.Unlock()
	rep.WatchCPU = selfCPU() - s.selfCPU0
	s.release()
	return rep
}

// Finished reports whether Finish has run.
func (s *Session) Finished() bool { return s.report != nil }

// descendants returns our live descendants (zombies excluded), by walking
// /proc from this process.
func (s *Session) descendants() []int {
	s.sampleMu.Lock()
	defer s.sampleMu.Unlock()
	var out []int
	queue := children(os.Getpid(), s.buf)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		st, err := readStat(pid, s.buf)
		if err != nil {
			continue
		}
		if k := s.procs[pid]; k == nil {
			s.procs[pid] = &known{comm: st.comm, parent: st.ppid, lastSeen: -1}
		} else {
			k.comm = st.comm
		}
		if st.state != 'Z' && st.state != 'X' {
			out = append(out, pid)
		}
		queue = append(queue, children(pid, s.buf)...)
	}
	return out
}

// Kill sends SIGKILL to the supervisor's process group and every
// descendant: for an aborted run. Finish must still be called.
func (s *Session) Kill() {
	for _, pid := range s.descendants() {
		_ = unix.Kill(pid, unix.SIGKILL)
	}
	_ = unix.Kill(-s.pid, unix.SIGKILL)
}

func (s *Session) release() {
	if s.ready != nil {
		s.ready.close()
	}
	if s.exits != nil {
		s.exits.close()
	}
}

func statusString(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return "signal " + unix.SignalName(ws.Signal())
	default:
		return fmt.Sprintf("status %#x", uint32(ws))
	}
}
