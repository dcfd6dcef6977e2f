package command

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/agent"
	"github.com/prox-dev/prox/internal/rotate"
	"github.com/prox-dev/prox/supervisor/config"
	"github.com/prox-dev/prox/supervisor/control"
	"golang.org/x/sys/unix"
)

// reportFDFlag is the hidden flag of the background prox that `prox up -d`
// starts: the descriptor of the pipe on which it reports its start.
const reportFDFlag = "detached-report-fd"

// readyMark is the byte the background prox writes on the report pipe
// once every process is up; anything else it writes there is text for
// the user. It never occurs in text.
const readyMark = 0

// LogFile returns the log file of a detached prox on socket: beside it,
// named after it with ".log" for ".sock" (.prox/prox.log for the default
// socket).
func LogFile(socket string) string {
	return strings.TrimSuffix(socket, ".sock") + ".log"
}

// runDetach is `prox up -d`: it checks the configuration here, starts
// prox in the background (a session of its own, no terminal, stdin from
// /dev/null) and waits for its report: it returns once every process is
// up, printing the processes, or exits 1 once the background prox has
// reported a failed start and stopped everything it started.
func (c *UpCommand) runDetach(logger hclog.Logger) int {
	// An invalid configuration starts nothing: it is said here, with
	// colours on a terminal, before anything is spawned.
	cfg, diags := agent.LoadConfigWith(c.configPath, config.LoadOptions{EnvFile: c.envFile, Formation: c.formation}, logger)
	if len(diags) > 0 {
		c.writeDiagnostics(cfg, diags)
	}
	if diags.HasErrors() {
		return exitFailure
	}
	socket := c.socketPath()
	if st, err := c.running(socket); err == nil {
		// The background prox would refuse too, with the same words;
		// saying it here spares the spawn.
		c.Ui.Error((&control.AlreadyRunningError{Socket: socket, PID: st.PID}).Error())
		return exitFailure
	}

	exe, err := os.Executable()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("find prox's own binary: %v", err))
		return exitFailure
	}
	r, w, err := os.Pipe()
	if err != nil {
		c.Ui.Error(fmt.Sprintf("report pipe: %v", err))
		return exitFailure
	}
	defer r.Close()
	cmd := exec.Command(exe, c.childArgs()...)
	// Its own session: no controlling terminal, so neither Ctrl-C nor a
	// closed terminal reaches it. Stdin, stdout and stderr are /dev/null
	// (stdout and stderr become the log file once it is open); the
	// report pipe is descriptor 3.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		w.Close()
		c.Ui.Error(fmt.Sprintf("start prox in the background: %v", err))
		return exitFailure
	}
	w.Close()
	pid := cmd.Process.Pid

	// Ctrl-C while waiting gives the start up: the background prox stops
	// what it started, and this one waits for it.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	report := make(chan bool, 1)
	go func() { report <- copyReport(c.stderr(), r) }()
	var ready bool
wait:
	for {
		select {
		case ready = <-report:
			break wait
		case sig := <-sigs:
			c.Ui.Error(fmt.Sprintf("prox up -d: %s: stopping the background prox (PID %d)", sig, pid))
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	if !ready {
		// It failed, or was interrupted, and stops what it started: wait
		// until it has exited, so that nothing is left running.
		_ = cmd.Wait()
		c.Ui.Error("The background prox has stopped; nothing it started is left running.")
		return exitFailure
	}
	_ = cmd.Process.Release()

	c.Ui.Output(fmt.Sprintf("prox is running in the background (PID %d); its log is %s.", pid, LogFile(socket)))
	c.Ui.Output(`"prox attach" follows the output, "prox down" stops it.`)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	client := control.NewClient(socket)
	defer client.Close()
	ps, err := client.Processes(ctx)
	if err != nil {
		// Every process may have ended by itself already, and prox with
		// them.
		c.Ui.Error(fmt.Sprintf("prox ps: %v", err))
		return exitOK
	}
	c.Ui.Output(strings.TrimRight(psTable(ps), "\n"))
	return exitOK
}

// running returns the status of the prox on socket; an error when none
// answers.
func (c *UpCommand) running(socket string) (*control.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	client := control.NewClient(socket)
	defer client.Close()
	return client.Status(ctx)
}

// childArgs are the arguments of the background prox: this command's
// flags, without -d, with the report descriptor.
func (c *UpCommand) childArgs() []string {
	args := []string{"up", "-config", c.configPath, "-log-level", c.logLevel, "-" + reportFDFlag, "3"}
	if c.envFile != "" {
		args = append(args, "-env-file", c.envFile)
	}
	if c.socket != "" {
		args = append(args, "-socket", c.socket)
	}
	if c.quiet {
		args = append(args, "-quiet")
	}
	if !c.formation.IsZero() {
		args = append(args, "-m", c.formation.String())
	}
	if c.noColor {
		args = append(args, "-no-color")
	}
	if c.watch {
		args = append(args, "-watch")
	}
	return args
}

// copyReport copies the background prox's report to w, without the ready
// mark, until the pipe closes; true when the mark came (every process is
// up).
func copyReport(w io.Writer, r io.Reader) bool {
	ready := false
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b := buf[:n]
			if i := bytes.IndexByte(b, readyMark); i >= 0 {
				ready = true
				b = append(b[:i:i], b[i+1:]...)
			}
			_, _ = w.Write(b)
		}
		if err != nil {
			return ready
		}
	}
}

// switchWriter writes to one writer, then another: the background prox's
// own log goes to the report pipe until it holds the socket, then to the
// log file.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write implements io.Writer.
func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// set makes w the writer.
func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// runBackground is the background prox that `prox up -d` started: it
// reports on fd its start's problems and outcome, logs and writes the
// processes' output into the rotated log file beside the socket, and
// reads SIGHUP as a request to reload (onHangup), not as a closed
// terminal.
func (c *UpCommand) runBackground(fd int) int {
	report := os.NewFile(uintptr(fd), "report")
	if report == nil {
		return exitUsage
	}
	var closeReport sync.Once
	endReport := func(text string, ready bool) {
		closeReport.Do(func() {
			if text != "" {
				_, _ = io.WriteString(report, text)
			}
			if ready {
				_, _ = report.Write([]byte{readyMark})
			}
			_ = report.Close()
		})
	}
	defer endReport("", false)

	// Until it holds the socket, what it says goes to the report: another
	// prox may be writing the log file.
	out := &switchWriter{w: report}
	c.Stderr = out
	c.Ui = &cli.BasicUi{Reader: os.Stdin, Writer: out, ErrorWriter: out}
	logger, err := c.Logger()
	if err != nil {
		c.Ui.Error(err.Error())
		return exitUsage
	}
	socket := c.socketPath()
	logFile := rotate.New(LogFile(socket), rotate.Options{OnOpen: func(f *os.File) {
		// A panic, or anything else written to stdout or stderr, lands
		// in the log too.
		_ = unix.Dup3(int(f.Fd()), 1, 0)
		_ = unix.Dup3(int(f.Fd()), 2, 0)
	}})
	defer logFile.Close()
	c.Stdout = logFile

	stops, hangups, stopSignals := detachedSignals()
	defer stopSignals()
	c.ready = func(err error) {
		if err != nil {
			endReport(fmt.Sprintf("prox up -d: %v; stopping what was started (see %s)\n", err, logFile.Path()), false)
			return
		}
		endReport("", true)
	}
	a, ok := c.start(logger)
	if a != nil {
		defer a.Close()
	}
	if !ok {
		return exitFailure
	}
	out.set(logFile)
	c.logOut.setBefore(a.SyncTerminal)
	defer c.logOut.setBefore(nil)
	logger.Info("running in the background", "pid", os.Getpid(), "socket", socket)
	done := make(chan struct{})
	defer close(done)
	go onHangup(a, logger, hangups, done)
	return a.Run(stops)
}

// detachedSignals returns the signals that stop a background prox
// (SIGINT, SIGTERM) and, apart, SIGHUP, which asks it to reload: it has
// no terminal to lose. SIGPIPE is caught as in the foreground. stop
// undoes it all.
func detachedSignals() (stops, hangups <-chan os.Signal, stop func()) {
	s := make(chan os.Signal, 4)
	h := make(chan os.Signal, 4)
	pipes := make(chan os.Signal, 1)
	signal.Notify(s, os.Interrupt, syscall.SIGTERM)
	signal.Notify(h, syscall.SIGHUP)
	signal.Notify(pipes, syscall.SIGPIPE)
	return s, h, func() {
		signal.Stop(s)
		signal.Stop(h)
		signal.Stop(pipes)
	}
}

// onHangup is where SIGHUP to a background prox goes: to Agent.Reload,
// one at a time, until done is closed. A reload that fails leaves prox
// running as it was, and says why in the log.
func onHangup(a *agent.Agent, logger hclog.Logger, hangups <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-hangups:
			logger.Info("SIGHUP: reloading the configuration")
			if err := a.Reload(context.Background()); err != nil {
				logger.Error("SIGHUP: the configuration is not reloaded; prox keeps running as it was", "error", err)
			}
		}
	}
}

// reportFD parses the value of -detached-report-fd: a descriptor above 2.
func reportFD(v string) (int, error) {
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return 0, fmt.Errorf("invalid -%s %q", reportFDFlag, v)
	}
	return fd, nil
}
