package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// pending is an alert not yet delivered everywhere; delivery resumes where
// it failed, so a retry does not append the same alert to the file twice.
type pending struct {
	alert   *Alert
	json    []byte
	toFile  bool // still to append to the file
	command bool // still to run the command for
}

func newPending(cfg *config, a *Alert) (*pending, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding the alert: %w", err)
	}
	return &pending{alert: a, json: b, toFile: cfg.file != "", command: len(cfg.command) > 0}, nil
}

// deliver delivers p wherever it still has to go.
func deliver(ctx context.Context, cfg *config, p *pending) error {
	if p.toFile {
		if err := appendLine(cfg.file, p.json); err != nil {
			return err
		}
		p.toFile = false
	}
	if p.command {
		if err := runCommand(ctx, cfg, p); err != nil {
			return err
		}
		p.command = false
	}
	return nil
}

// appendLine appends line and a newline to path, durably.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("failed to open the alert file: %w", err)
	}
	_, err = f.Write(append(append([]byte(nil), line...), '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("failed to append to the alert file %s: %w", path, err)
	}
	return nil
}

// runCommand runs the alert command with the alert on its stdin, bounded
// by ctx and command_timeout; on either, its whole process group is killed.
func runCommand(ctx context.Context, cfg *config, p *pending) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.command[0], cfg.command[1:]...)
	cmd.Env = append(os.Environ(),
		"PROX_ALERT_PROCESS="+p.alert.Process,
		"PROX_ALERT_COUNT="+strconv.Itoa(p.alert.Count),
		"PROX_ALERT_SUMMARY="+p.alert.Summary,
	)
	cmd.Stdin = bytes.NewReader(append(append([]byte(nil), p.json...), '\n'))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return fmt.Errorf("alert command %s: %w; its output: %q", cfg.command[0], err, bytes.TrimSpace(out.Bytes()))
	}
	return nil
}
