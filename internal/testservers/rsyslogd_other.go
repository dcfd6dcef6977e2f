//go:build !linux

package testservers

import "syscall"

// rsyslogdSysProcAttr has nothing to set outside Linux.
func rsyslogdSysProcAttr() *syscall.SysProcAttr { return nil }
