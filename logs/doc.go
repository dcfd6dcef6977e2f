// Package logs owns captured process output: it frames the raw bytes a
// runner delivers into lines (LogEntry), in one place, with a maximum line
// length.
package logs
