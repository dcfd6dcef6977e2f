package sdktest

import "fmt"

// The default commands of RunnerSuite: POSIX shell scripts run as
// `sh -c SCRIPT`. They only need sh, sleep (with fractional seconds) and
// the shell's builtins.

func sh(script string) []string { return []string{"sh", "-c", script} }

// OutputCommand is RunnerSuiteOptions.Output's default: it writes
// "out 0".."out N-1" to stdout and "err 0".."err M-1" to stderr, both at
// once, then exits 0.
func OutputCommand(stdout, stderr int) []string {
	return sh(fmt.Sprintf(`i=0; while [ $i -lt %d ]; do echo "out $i"; i=$((i+1)); done &
j=0; while [ $j -lt %d ]; do echo "err $j" >&2; j=$((j+1)); done
wait`, stdout, stderr))
}

// ExitCommand is RunnerSuiteOptions.Exit's default: it exits with code.
func ExitCommand(code int) []string {
	return sh(fmt.Sprintf("echo exiting; exit %d", code))
}

// SleepCommand is RunnerSuiteOptions.Sleep's default: it prints "ready",
// then runs until a signal ends it, with the default action of every
// signal.
func SleepCommand() []string {
	return sh("echo ready; exec sleep 1000")
}

// IgnoreTERMCommand is RunnerSuiteOptions.IgnoreTERM's default: it ignores
// SIGTERM (and so does everything it starts), prints "ready", then "tick"
// about every 100 ms until it is killed.
func IgnoreTERMCommand() []string {
	return sh(`trap '' TERM; echo ready; while :; do echo tick; sleep 0.1; done`)
}

// GrandchildCommand is RunnerSuiteOptions.Grandchild's default. The leader
// catches SIGTERM (and keeps running); it starts a grandchild that runs
// until a signal ends it, prints the grandchild's PID on a line of its own,
// and once the grandchild has ended prints "grandchild ended" and exits 0.
// A SIGTERM that reaches the whole process group ends the grandchild, and
// so the leader; one that reaches only the leader ends nothing.
func GrandchildCommand() []string {
	// The grandchild prints its own PID once it runs as a new program:
	// a forked subshell still holds the leader's trap until it execs, and
	// would swallow a SIGTERM sent before that.
	return sh(`trap 'echo leader caught TERM' TERM
sh -c 'echo $$; exec sleep 1000' &
child=$!
while kill -0 $child 2>/dev/null; do wait $child; done
echo "grandchild ended"`)
}

// OrphanCommand is RunnerSuiteOptions.Orphan's default: it starts a
// grandchild that runs until killed and shares its output, prints the
// grandchild's PID on a line of its own, and exits 0 at once.
func OrphanCommand() []string {
	return sh(`sleep 1000 &
echo $!
exit 0`)
}
