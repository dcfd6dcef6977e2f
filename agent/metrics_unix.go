//go:build unix

package agent

import "syscall"

// errAddrInUse is the error of a listen on an address in use.
var errAddrInUse error = syscall.EADDRINUSE
