package procwatch

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// exitWatcher learns the exit times of processes that are not our
// children: a pidfd per process in one epoll set; a pidfd becomes readable
// when its process terminates.
type exitWatcher struct {
	epfd, wake int

	mu     sync.Mutex
	byFD   map[int32]int // pidfd → pid
	alive  map[int]int32 // pid → pidfd
	exited map[int]time.Time
	last   time.Time
	done   chan struct{}
}

func newExitWatcher() (*exitWatcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("epoll add: %w", err)
	}
	w := &exitWatcher{
		epfd: epfd, wake: wake,
		byFD: map[int32]int{}, alive: map[int]int32{}, exited: map[int]time.Time{},
		done: make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// track starts watching pid; a pid already watched or gone is ignored.
func (w *exitWatcher) track(pid int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.alive[pid]; ok {
		return
	}
	if _, ok := w.exited[pid]; ok {
		return
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		// Already reaped: it is gone, at an unknown moment before now.
		w.exited[pid] = time.Now()
		return
	}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		_ = unix.Close(fd)
		return
	}
	w.byFD[int32(fd)] = pid
	w.alive[pid] = int32(fd)
}

func (w *exitWatcher) loop() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return
		}
		now := time.Now()
		w.mu.Lock()
		for _, ev := range events[:n] {
			if int(ev.Fd) == w.wake {
				w.mu.Unlock()
				return
			}
			pid, ok := w.byFD[ev.Fd]
			if !ok {
				continue
			}
			_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, int(ev.Fd), nil)
			_ = unix.Close(int(ev.Fd))
			delete(w.byFD, ev.Fd)
			delete(w.alive, pid)
			w.exited[pid] = now
			if now.After(w.last) {
				w.last = now
			}
		}
		w.mu.Unlock()
	}
}

// counts returns how many watched processes are alive and have exited.
func (w *exitWatcher) counts() (alive, exited int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.alive), len(w.exited)
}

// gone reports whether pid is watched and has exited.
func (w *exitWatcher) gone(pid int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.exited[pid]
	return ok
}

// alivePIDs returns the watched processes still alive.
func (w *exitWatcher) alivePIDs() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]int, 0, len(w.alive))
	for pid := range w.alive {
		out = append(out, pid)
	}
	return out
}

// lastExit returns the latest exit time seen.
func (w *exitWatcher) lastExit() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// close stops the loop and releases every descriptor.
func (w *exitWatcher) close() {
	var one = []byte{1, 0, 0, 0, 0, 0, 0, 0}
	_, _ = unix.Write(w.wake, one)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for fd := range w.byFD {
		_ = unix.Close(int(fd))
	}
	_ = unix.Close(w.wake)
	_ = unix.Close(w.epfd)
}
