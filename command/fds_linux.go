package command

import (
	"fmt"
	"math"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// markInheritedCloseOnExec marks every descriptor above 2 close-on-exec,
// as systemd does: a descriptor that prox's parent left open without the
// flag (a shell's fd 7) would otherwise reach every plugin and every
// process prox starts. prox opens its own descriptors close-on-exec and
// passes descriptors on only on purpose, after this (exec.Cmd's ExtraFiles,
// SCM_RIGHTS), so marking them all at start takes nothing from anyone.
func markInheritedCloseOnExec() error {
	if err := closeRangeCloexec(); err == nil {
		return nil
	}
	// close_range's CLOSE_RANGE_CLOEXEC needs Linux 5.11.
	return cloexecFromProc()
}

// closeRangeCloexec marks descriptors 3 and up with one close_range call.
func closeRangeCloexec() error {
	if err := unix.CloseRange(3, math.MaxUint32, unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("close_range: %w", err)
	}
	return nil
}

// cloexecFromProc marks the descriptors above 2 that /proc/self/fd lists.
func cloexecFromProc() error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list the open descriptors: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("list the open descriptors: %w", err)
	}
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd > 2 {
			syscall.CloseOnExec(fd)
		}
	}
	return nil
}
