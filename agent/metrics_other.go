//go:build !unix

package agent

import "errors"

// errAddrInUse is never matched where EADDRINUSE is not known.
var errAddrInUse = errors.New("address in use")
