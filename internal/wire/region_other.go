//go:build !linux

package wire

import (
	"errors"
	"os"
)

var errNoSharedRegions = errors.New("shared batch regions need Linux's memfd")

// NewRegion fails: shared regions need Linux.
func NewRegion(int) ([]byte, *os.File, error) { return nil, nil, errNoSharedRegions }

// MapRegion fails: shared regions need Linux.
func MapRegion(*os.File, uint64) ([]byte, error) { return nil, errNoSharedRegions }

// UnmapRegion does nothing.
func UnmapRegion([]byte) {}
