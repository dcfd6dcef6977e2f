// Package alerting is what prox's alerting sinks (webhook, alertmanager)
// share: the triggers (Detector: `match`, `events`, `cooldown`, the last
// lines of each process), the durable spool of requests on disk (Spool),
// its delivery in order with backoff and retry_for (Delivery) and the
// HTTP attempt (Sender), and the checks of their common attributes. A
// sink renders alerts in its own format and spools the request body; the
// rest is here, so both sinks tolerate an outage the same way.
package alerting
