// Package logs owns captured process output: it frames the raw bytes a
// runner delivers into lines (Framer), in one place, with a maximum line
// length, and the Manager keeps and distributes those lines.
//
// The Manager is the supervisor's output callback
// (Manager.WriteStableBatch): the lines of one read, framed by a Framer
// whose bytes are never written again, go without a copy into their
// process's ring buffer (for Query) and are fanned out
// from there: to live subscribers (the terminal, API clients) through
// buffered channels that never block the writer, and to sinks (out of
// process plugins) through one bounded queue and one goroutine per sink,
// which batches entries, waits for each batch's acknowledgement, relaunches
// a failed sink and resends the batch (at least once).
//
// Stored line bytes are never modified, so every reader
// (a Query result, a subscriber, a batch held by a sink) may keep them as
// long as it likes without synchronisation; none may modify them.
package logs
