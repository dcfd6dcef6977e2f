# The chaos runner at work:
#
#   go build -o prox-plugin-chaos .
#   prox up
#
# "ticker" is killed every 2 to 6 seconds (kill_every = "4s") and its starts
# are delayed by up to a second; its restart policy brings it back each time.

plugin "chaos" {
  path = "./prox-plugin-chaos"
}

runner "chaos" "flaky" {
  kill_every  = "4s"
  start_delay = "1s"
}

process "ticker" {
  command = ["sh", "-c", "echo started; while true; do sleep 0.5; echo tick; done"]
  runner  = "chaos.flaky"
  restart {
    policy  = "always"
    backoff = "200ms"
  }
}

# A process on the built-in exec runner, untouched by the chaos.
process "steady" {
  command = ["sh", "-c", "while true; do sleep 1; echo steady; done"]
}
