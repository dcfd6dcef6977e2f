package testservers

import "syscall"

// rsyslogdSysProcAttr makes a test's rsyslogd die with the test binary,
// even when the test is killed before its cleanups run.
func rsyslogdSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
