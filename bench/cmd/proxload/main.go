// Command proxload is the workload of prox's benchmark scenarios: the
// programs a supervisor under test runs.
//
//	proxload lines -tag T -n N -size S [-report FILE]
//	    write records 0..N-1 of tag T, S bytes each (see bench/internal/lines),
//	    to stdout as fast as possible, then write a JSON report (timing, own
//	    CPU and peak RSS) to FILE
//	proxload idle [-ready DIR]
//	    mark itself ready in DIR and sleep forever (SIGTERM ends it)
//	proxload ignore-term [-ready DIR]
//	    ignore SIGTERM, SIGINT, SIGHUP and SIGQUIT, mark itself ready, sleep
//	    forever: only SIGKILL ends it
//	proxload tree [-ready DIR]
//	    start "proxload idle" as a child (in the same process group), mark
//	    itself ready and sleep forever: a process with a grandchild of the
//	    supervisor
//	proxload crash -log FILE [-code C]
//	    append "<unix-nanos> <pid>" to FILE and exit with code C (default 1)
//
// Its own errors go to stderr through hclog.
package main

import (
	"flag"
	"fmt"
	"os"
	osexec "os/exec"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prox-dev/prox/bench/internal/workload"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	log := hclog.New(&hclog.LoggerOptions{Name: "proxload", Output: os.Stderr, Level: hclog.Info})
	if len(args) == 0 {
		log.Error("usage: proxload lines|idle|ignore-term|tree|crash [flags]")
		return 2
	}
	mode, args := args[0], args[1:]
	fs := flag.NewFlagSet("proxload "+mode, flag.ContinueOnError)
	tag := fs.String("tag", "", "lines: the records' tag")
	n := fs.Int("n", 0, "lines: how many records")
	size := fs.Int("size", 100, "lines: bytes per record, newline included")
	report := fs.String("report", "", "lines: where to write the JSON report")
	ready := fs.String("ready", "", "idle, ignore-term, tree: folder in which to mark readiness")
	logPath := fs.String("log", "", "crash: file to append the start to")
	code := fs.Int("code", 1, "crash: exit code")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch mode {
	case "lines":
		err = lines(*tag, *n, *size, *report)
	case "idle":
		err = idle(*ready)
	case "ignore-term":
		workload.IgnoreTermination()
		err = idle(*ready)
	case "tree":
		err = tree(*ready)
	case "crash":
		if *logPath == "" {
			err = fmt.Errorf("crash needs -log")
			break
		}
		if err = workload.RecordStart(*logPath); err == nil {
			return *code
		}
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		log.Error("failed", "mode", mode, "error", err)
		return 1
	}
	return 0
}

func lines(tag string, n, size int, report string) error {
	rep := &workload.LinesReport{Tag: tag, Lines: n, Size: size, StartUnixNano: time.Now().UnixNano()}
	if err := workload.WriteLines(os.Stdout, tag, n, size); err != nil {
		return err
	}
	rep.EndUnixNano = time.Now().UnixNano()
	if report == "" {
		return nil
	}
	if err := rep.SelfUsage(); err != nil {
		return err
	}
	return workload.WriteReport(report, rep)
}

func idle(ready string) error {
	if err := workload.MarkReady(ready); err != nil {
		return err
	}
	workload.Forever()
	return nil
}

func tree(ready string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	args := []string{"idle"}
	if ready != "" {
		args = append(args, "-ready", ready)
	}
	child := osexec.Command(self, args...)
	child.Stdout, child.Stderr = os.Stdout, os.Stderr
	if err := child.Start(); err != nil {
		return fmt.Errorf("start child: %w", err)
	}
	if err := workload.MarkReady(ready); err != nil {
		return err
	}
	_ = child.Wait()
	workload.Forever()
	return nil
}
