//go:build !linux

package sdk

import (
	"errors"
	"os"
)

var errNoSharedRegions = errors.New("shared batch regions need Linux's memfd")

func newSharedRegion(int) ([]byte, *os.File, error) { return nil, nil, errNoSharedRegions }

func mapSharedRegion(*os.File, uint64) ([]byte, error) { return nil, errNoSharedRegions }

func unmapRegion([]byte) {}
