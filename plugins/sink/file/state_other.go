//go:build !unix

package file

import (
	"errors"
	"os"
)

// stateSupported is false: without flock and inode numbers the sink keeps
// no state file, and a resent batch may repeat lines.
const stateSupported = false

var errWouldBlock = errors.New("would block")

func lockFile(*os.File) error { return errors.ErrUnsupported }

func fileID(os.FileInfo) (dev, ino uint64) { return 0, 0 }
