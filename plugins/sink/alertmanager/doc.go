// Package alertmanager is prox's built-in sink that pushes alerts into
// one or more Prometheus Alertmanagers, with Alertmanager's API v2
// (POST URL/api/v2/alerts), so that prox's alerts are routed, grouped,
// silenced and inhibited by the Alertmanager a team already runs.
//
// # Triggers
//
// As the webhook sink's (`match`, `events`, `cooldown`, `context_lines`;
// package plugins/sink/internal/alerting): a listed process event
// (default "crashed" and "failed") or a log line matching `match` raises
// an alert, at most one per process and trigger within `cooldown`.
//
// # Alerts
//
// Labels: alertname ("ProxProcess" and the event in CamelCase, e.g.
// "ProxProcessCrashed", "ProxProcessFailed", "ProxProcessUnhealthy"; or
// "ProxLogMatch"), process, host (the machine's host name) and the
// block's `labels`. Annotations: summary (one line: the process, the
// event, its exit code or signal, its restarts), reason (the exit code,
// the signal or the supervisor's message), description, and last_lines
// (the process's last `context_lines` lines before the event) or line
// (the matching line). startsAt is the event's time.
//
// An event alert fires until its process recovers: an event that leaves
// it running, healthy or stopped (as asked) resolves it, sent with endsAt
// the time of that event, and Alertmanager shows it resolved. While it
// fires, it is sent again every `resend_interval` (default 1m, Prometheus's
// --rules.alert.resend-delay) with endsAt 4 intervals ahead, as Prometheus
// does with its alerts: an alert whose sender died (prox was killed)
// resolves by itself 4 intervals after the last send. A match alert is a
// one-off: it is sent once with endsAt its time plus the cooldown (at
// least a resend interval).
//
// # Delivery
//
// Every Alertmanager of `urls` (a cluster) receives every alert: the
// alerts a Write raises and resolves make one request, spooled on disk for
// each Alertmanager before Write returns, and delivered from there by a
// goroutine per Alertmanager, in order, retried for `retry_for` with the
// webhook sink's backoff (up to 1s while it cannot be reached or a gateway
// answers 502, 503 or 504 for it, 10s while it answers another 5xx, 408
// or 429): an Alertmanager that is down gets what it
// missed when it is back, also after a restart of prox; one that is down
// holds up no other. The resends of an Alertmanager whose spool still
// holds requests wait until it has caught up.
//
// An answer 4xx (other than 408 and 429) or 3xx is not retried: the
// request's alerts are dropped for that Alertmanager, logged once at
// ERROR with the status and the start of Alertmanager's answer (what it
// refused), counted, and no longer resent, to any Alertmanager (the
// others of a cluster would refuse them too).
//
// The spool is `spool` (default .prox/alertmanager/ followed by 16 hex
// digits of the SHA-256 of urls), with a folder per Alertmanager, locked
// as the webhook sink's.
package alertmanager
