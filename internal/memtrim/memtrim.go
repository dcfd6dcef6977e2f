// Package memtrim gives a long-running process's idle memory back to the
// system: the freed heap (debug.FreeOSMemory) and the pages of its own
// executable that only its start touched.
//
// A Go binary's start touches pages all over its code and read-only data:
// every package initialiser runs once, and the kernel maps up to 64 KiB
// around each page touched (fault-around). prox and its plugins are one
// large binary run several times, so each process stays resident in
// megabytes of pages it never uses again. DropExecutablePages tells the
// kernel (madvise MADV_DONTNEED) that the process is done with the clean,
// read-only mappings of its executable: they leave its resident set and
// stay in the page cache, and the pages it uses again come back as minor
// faults on first use. Only mappings with no page copied on write (one the
// loader relocated or a debugger wrote) are dropped, so nothing the
// process holds is lost: the file's content is the mapping's content.
//
// It imports nothing of prox, so that both the host and the SDK may use it.
package memtrim

import (
	"runtime/debug"
	"time"
)

// Release returns the freed heap to the system and drops the executable's
// clean read-only pages from the resident set (DropExecutablePages). It
// is meant for the moment a process turns idle: once a start is over.
func Release() {
	debug.FreeOSMemory()
	_, _ = DropExecutablePages()
}

// SettleDelay is how long after a start is over AfterStart gives memory
// back a second time.
const SettleDelay = time.Second

// AfterStart releases at once (Release), in a goroutine of its own, and
// again SettleDelay later: what the first moments after a start touch
// once (the first processes' starts, the first batches, the control
// socket) goes too.
func AfterStart() {
	go Release()
	time.AfterFunc(SettleDelay, Release)
}
