//go:build !linux

package sdk

// removeLocalCgroup does nothing: cgroups are Linux's.
func removeLocalCgroup(string) {}
