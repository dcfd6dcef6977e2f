// Package syslog is prox's built-in syslog sink: it sends the output lines
// and the events of the processes that name it to a syslog server, as
// RFC 5424 or RFC 3164 messages, over UDP (one message per datagram, RFC
// 5426), TCP (octet-counting framing, RFC 6587), TLS (RFC 5425) or a local
// unix datagram socket (as rsyslog's imuxsock or /dev/log).
//
// Each line becomes one message: the app-name is the process name, the
// msgid is the stream ("stdout" or "stderr"), the severity is the stream's
// configured severity and, for RFC 5424, the structured data
// [prox@32473 stream="stdout"] names the stream. Lines are sent byte for
// byte (no byte-order mark, invalid UTF-8 included); only datagrams are
// truncated, never their header. Events are messages too, with msgid
// "event", severity notice (err for crashed and failed) and their fields as
// structured data.
//
// When the connection breaks, the sink reconnects in the background with a
// backoff from 100 ms to 5 s, and the entries it could not write wait in a
// bounded queue (max_queue) to be sent, in order, on the new connection. A
// Write that finds the queue full waits for the next reconnect attempt (at
// most three times connect_timeout); when that attempt fails, the Write
// fails with its error ("connection refused"), so that the host shows the
// sink failing, keeps the batch and resends it with its backoff: no entry
// is dropped silently.
//
// Plain TCP and TLS syslog have no acknowledgement. Before each batch the
// sink checks that the server has not closed the connection (the TCP
// state, on Linux), so a server that went away is noticed before data is
// written into the void; a server that dies while reading may still lose
// what was in its socket buffer. UDP is lossy by nature.
package syslog
