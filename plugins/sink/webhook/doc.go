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
// All alerts raised by one Write go in one request (POST, Content-Type
// application/json). A network error, a 5xx or a 429 is retried up to
// `max_retries` times with exponential backoff (200ms doubling up to 10s,
// with jitter, at least the Retry-After seconds when the server sends
// them); any other status, a redirect included, is not retried. Alerts that
// are refused or still failing after the retries are logged, counted
// (Stats) and dropped, and Write returns nil: a dead webhook never holds
// up the processes' logs for longer than the retries take. With a
// `secret`, the header X-Prox-Signature is "sha256=" followed by the hex
// HMAC-SHA256 of the body keyed with the secret, so a receiver can check
// the request:
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
