// Package webhook is prox's built-in alerting sink: it watches the output
// and events of the processes that name it and POSTs alerts to an HTTP
// webhook.
//
// # Triggers
//
// A log line that matches the regular expression `match` raises an alert
// with trigger "match". A process event whose State or Type is listed in
// `events` raises an alert with trigger "event"; it carries the last
// `context_lines` lines of that process, kept in a small ring per process.
// Without `match` and `events`, the events "crashed" and "failed" raise
// alerts.
//
// # Cooldown
//
// The alert key is the process and the trigger ("match", or the listed
// event name). Per key, at most one alert is sent per `cooldown`. Repeats
// are counted in the alert's "suppressed" field: repeats within the same
// batch fold into that batch's alert; repeats in later batches within the
// cooldown are reported by the next alert of the key.
//
// # Delivery
//
// The alerts raised by one Write make one request (POST, Content-Type
// application/json), and Write spools it before it returns: a file in the
// sink's spool folder, written, synced and renamed into place, so that an
// alert prox has been told about survives a crash of the plugin, of prox
// or of the machine. Write never waits for the webhook: a dead webhook
// never holds up the processes' logs. A goroutine delivers the spooled
// requests in order, one at a time: the oldest until it is delivered,
// refused or expired, the later ones queued behind it.
//
// Every request carries the header Idempotency-Key: a random UUID given
// when it is spooled, the same on every attempt, before and after a
// restart. A request whose answer was lost is sent again (delivery is at
// least once); a receiver that remembers the keys it has processed
// processes each alert once.
//
// A network error, a 5xx, a 408 or a 429 is retried. The wait doubles from
// 100ms up to 1s while the webhook cannot be reached, or a gateway in
// front of it answers 502, 503 or 504: an attempt then costs one
// connection attempt (or one small answer), no more than a separate probe
// would, and the first request reaches a webhook that comes back within
// about a second. While the webhook answers another error status, the
// wait goes up to 10s. A Retry-After (up to a minute) is always waited.
// Waits are drawn from their upper half. The first failure is logged at
// WARN, then once a minute while it lasts, the recovery at INFO. At a failure, the requests
// spooled more than `retry_for` ago (default 1h) are dropped, logged at
// ERROR and counted (Stats.Dropped). Any other status, a redirect
// included, is not retried: its alerts are dropped, logged at ERROR and
// counted.
//
// The spool holds at most `spool_max_alerts` alerts (default 1000). The
// alerts of a batch that do not fit are dropped, logged at ERROR and
// counted; the ones already spooled stay.
//
// Flush makes an attempt at once and waits while the webhook accepts,
// returning at the first failure; Close stops the delivery and leaves the
// spool as it is. What the webhook has not taken when prox stops is
// delivered by the next prox on the same configuration, from its first
// batch on (prox sends one as soon as a process starts); Configure alone
// sends nothing, since `prox validate` calls it too.
//
// # The spool
//
// `spool` names the folder, relative to the configuration's folder. One
// sink uses a spool at a time: it holds a lock (flock) in it, which the
// kernel releases when the sink's process ends, however it ends. The
// plugin does not know its block's name, so the default spool is
// .prox/webhook/ followed by 16 hex digits of the SHA-256 of `url`: two
// sinks of one prox with the same url need a `spool` each, and Configure
// says so. A spool held by another prox (a `prox validate` while prox up
// runs) is locked again at the first Write. Each request is a file
// NNNNNNNNNNNNNNNNNNNN.alert (its sequence number): a line of JSON
// ({"key", "time", "alerts"}), then the request body.
//
// `max_retries`, from earlier versions, is accepted and ignored, with a
// warning: a failed delivery is retried for `retry_for`.
//
// # Signature
//
// With a `secret`, the header X-Prox-Signature is "sha256=" followed by the
// hex HMAC-SHA256 of the body keyed with the secret, so a receiver can
// check the request:
//
//	mac := hmac.New(sha256.New, secret)
//	mac.Write(body)
//	ok := hmac.Equal([]byte(header), []byte("sha256="+hex.EncodeToString(mac.Sum(nil))))
//
// The secret, header values and the URL's path, query and user info (a
// Slack webhook URL is a credential) never appear in logs or errors; the
// logs name the endpoint as scheme://host only.
//
// Log lines are not necessarily valid UTF-8: in payloads, invalid bytes
// become U+FFFD, and a line longer than 2048 bytes is cut and ends with
// "…".
//
// # The "json" format
//
// prox's own payload, one object per request:
//
//	{
//	  "alerts": [
//	    {
//	      "process": "web",
//	      "trigger": "event",
//	      "summary": "process web crashed (exit 1, restarts 2)",
//	      "event": {
//	        "type": "crashed", "state": "crashed", "previous_state": "running",
//	        "exit_code": 1, "signal": "", "message": "", "restarts": 2,
//	        "time": "2024-05-06T07:08:09.123456789Z"
//	      },
//	      "time": "2024-05-06T07:08:09.123456789Z",
//	      "suppressed": 0,
//	      "context": ["last line but one", "last line"]
//	    },
//	    {
//	      "process": "api",
//	      "trigger": "match",
//	      "summary": "process api logged a line matching the alert pattern",
//	      "line": "panic: runtime error: index out of range",
//	      "time": "2024-05-06T07:08:10Z",
//	      "suppressed": 3
//	    }
//	  ]
//	}
//
// "event" is present for trigger "event" only, "line" for trigger "match"
// only; "context" is omitted when empty. Times are RFC 3339 in UTC.
// "suppressed" is the number of repeats of the same alert key this alert
// stands for (see Cooldown).
//
// # The "slack" format
//
// A Slack incoming-webhook message, {"text": "..."}: one paragraph per
// alert with its summary and, in a code block, the matching line or the
// context lines.
//
// # The "alertmanager" format
//
// The payload Alertmanager sends to its webhook receivers (version "4"),
// so that tools written for it accept prox's alerts: status "firing",
// receiver "prox", one alert per prox alert with labels alertname
// ("ProxProcessCrashed", "ProxProcessFailed", "ProxProcessEvent" for other
// events, "ProxLogMatch"), process, severity ("warning" for crashed and
// match, "critical" for failed, "info" otherwise), trigger and event;
// annotations summary and description (with the repeats and the line or
// context lines); startsAt the alert's time, endsAt
// "0001-01-01T00:00:00Z", generatorURL "". commonLabels are the labels all
// alerts share, groupLabels their alertname and process, and groupKey
// "{}:" followed by the group labels.
package webhook
