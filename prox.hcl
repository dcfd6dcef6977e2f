# The example configuration of the README:  go run . up -config prox.hcl
# Ctrl-C stops every process gracefully (SIGTERM, wait, SIGKILL).

# A one-shot process: it prints and exits 0.
process "hello" {
  command = ["sh", "-c", "echo \"hello, $GREETEE\"; echo 'this line went to stderr' >&2"]
  env     = { GREETEE = coalesce(env("USER"), "world") }
}

# A long-running process with a graceful stop.
process "worker" {
  command = ["./testdata/scripts/long_running.sh"]
  stop {
    signal  = "SIGTERM"
    timeout = "5s"
  }
}

# A process that ignores SIGTERM: prox waits its stop timeout, then SIGKILLs
# its whole process group.
process "stubborn" {
  command = ["./testdata/scripts/ignore_sigterm.sh"]
  stop {
    timeout = "2s"
  }
}

# A process that starts a grandchild: the group is the unit, so the
# background sleep goes with it.
process "clock" {
  command = ["sh", "-c", "sleep 3600 & while true; do date +%T; sleep 1; done"]
  runner  = "exec"
}
