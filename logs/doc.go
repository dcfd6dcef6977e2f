// Package logs owns captured process output: it frames the raw bytes a
// runner delivers into lines (Framer), in one place, with a maximum line
// length, and the Manager keeps and distributes those lines.
//
// The Manager is the supervisor's output callback
// (Manager.WriteStableBatch): the lines of one read, framed by a Framer,
// go without a copy into their process's ring buffer (for Query) and are
// fanned out
// from there: to live subscribers (the terminal, API clients) through
// buffered channels that never block the writer, and to sinks (out of
// process plugins) through one bounded queue and one goroutine per sink,
// which batches entries, waits for each batch's acknowledgement, relaunches
// a failed sink and resends the batch (at least once).
//
// The lines point into the Framer's read buffer (a Block). Each keeper of
// a line in this package (the ring, a sink's queue and its batch in
// flight, a batch subscriber until Done) holds its Block, and a busy
// Block that nothing holds is read into again (see Block). What leaves the
// package otherwise is a copy: a Query result, a line subscriber's lines.
// No one modifies a line while it is held.
package logs
