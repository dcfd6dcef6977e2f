// Package procwatch runs a process supervisor under measurement, on Linux.
//
// The measuring process makes itself a child subreaper, so that whatever
// the supervisor leaves behind is reparented to it rather than to init, and
// it reaps everything itself with wait4(2): the supervisor's exit time is
// exact, and the summed rusage of every reaped process is the CPU time of
// the whole tree (each parent in it waits for its children, so a process's
// rusage includes its reaped descendants').
//
// System calls are expensive on the machines this runs on (reading one
// /proc file costs tens of microseconds), so nothing is polled that can be
// waited for: workload processes announce themselves by renaming a file
// into a ready folder (seen through inotify), and their exits are seen
// through pidfds in an epoll set. Only the supervisor's own processes
// (the supervisor, its plugins, helper shells) are sampled from /proc, for
// their resident memory and CPU time, and only when a scenario asks.
//
// Only one Session may run at a time in a process, and the process must not
// start other children meanwhile: the reaper waits for any child.
package procwatch
