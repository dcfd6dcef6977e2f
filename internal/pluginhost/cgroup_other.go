//go:build !linux

package pluginhost

// removeLocalCgroup does nothing: cgroups are Linux's.
func removeLocalCgroup(string) {}
