# The threshold sink at work:
#
#   go build -o prox-plugin-threshold .
#   prox up
#
# "flaky" logs ERROR four times within a second: the third one raises one
# alert (3 within 10s), the fourth falls in the cooldown. The alert is
# appended to alerts.jsonl and its summary to alert-summaries.txt by the
# command.

plugin "threshold" {
  path = "./prox-plugin-threshold"
}

sink "threshold" "errors" {
  pattern  = "ERROR"
  count    = 3
  window   = "10s"
  cooldown = "1m"
  file     = "alerts.jsonl"
  command  = ["sh", "-c", "echo \"$PROX_ALERT_SUMMARY\" >> alert-summaries.txt"]
}

sink "threshold" "crashloop" {
  events = ["crashed"]
  count  = 3
  window = "5m"
  file   = "alerts.jsonl"
}

process "flaky" {
  command = ["sh", "-c", "for i in 1 2 3 4; do echo \"ERROR number $i\"; sleep 0.2; done; echo done"]
  sinks   = ["threshold.errors", "threshold.crashloop"]
}
