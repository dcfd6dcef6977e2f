package runnertag

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// passPause is the pause between two passes of Kill that found only
// processes it had already killed, which are still dying.
const passPause = 5 * time.Millisecond

// Kill SIGKILLs every process on this machine whose environment carries
// tag (Carries), but this one, and walks /proc again until a pass finds
// none: a process that forks while the pass runs leaves a child the next
// pass finds. It gives up after timeout, and returns how many processes it
// killed. A process it may not read (another user's) is skipped. Each
// signal goes through a pidfd opened before the environment is read again,
// so a PID reused meanwhile is never signalled.
func Kill(tag string, timeout time.Duration) (int, error) {
	if tag == "" {
		return 0, nil
	}
	deadline := time.Now().Add(timeout)
	killed := map[int]bool{}
	for {
		found, err := pass(tag, killed)
		if err != nil {
			return len(killed), err
		}
		if found == 0 {
			return len(killed), nil
		}
		if time.Now().After(deadline) {
			return len(killed), errors.New("processes carrying the tag were still found at the deadline")
		}
		time.Sleep(passPause)
	}
}

// pass walks /proc once, kills what carries tag and records it in killed.
// It returns how many carried it, killed before or now.
func pass(tag string, killed map[int]bool) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	found := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 || pid == self {
			continue
		}
		if !carries(pid, tag) {
			continue
		}
		found++
		if kill(pid, tag) {
			killed[pid] = true
		}
	}
	return found, nil
}

// carries reports whether process pid's environment carries tag; an
// unreadable one (another user's, gone, a zombie's empty one) does not.
func carries(pid int, tag string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	return err == nil && Carries(b, tag)
}

// kill SIGKILLs pid if, once a pidfd holds it, it still carries tag.
func kill(pid int, tag string) bool {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ENOSYS) {
		// No pidfds (Linux < 5.3): a PID reused between the read and the
		// signal is a risk taken then.
		return unix.Kill(pid, unix.SIGKILL) == nil
	}
	if err != nil {
		return false // gone
	}
	defer unix.Close(fd)
	if !carries(pid, tag) {
		return false
	}
	return unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0) == nil
}
