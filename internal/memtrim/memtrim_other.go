//go:build !linux

package memtrim

// DropExecutablePages does nothing here: the kernel's resident set of a
// mapping is Linux's.
func DropExecutablePages() (int64, error) { return 0, nil }
