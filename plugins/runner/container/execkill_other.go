//go:build !linux

package container

// killLocalExec is only possible on Linux (see execkill_linux.go).
func killLocalExec(int, string) bool { return false }
