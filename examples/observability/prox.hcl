# A small demo for the dashboard: a web process that logs steadily, a
# worker that crashes every half minute or so, a batch job writing bursts
# on stderr, all into a file sink; /metrics on 127.0.0.1:9464 (or
# $PROX_METRICS_ADDRESS). render.sh runs it under a real Prometheus and
# draws docs/images/observability.png from what Prometheus scraped.
metrics {
  address = coalesce(env("PROX_METRICS_ADDRESS"), "127.0.0.1:9464")
}

sink "file" "all" {
  path = ".prox/demo-logs/{process}.log"
}

process "web" {
  command = ["sh", "-c", "i=0; while :; do i=$((i+1)); echo \"GET /api/items/$i 200\"; sleep 0.05; done"]
  sinks   = ["file.all"]
}

process "worker" {
  command = ["sh", "-c", "echo 'worker: started'; n=$(( $(od -An -N1 -tu1 /dev/urandom) % 20 + 15 )); i=0; while [ $i -lt $n ]; do echo \"job $i done\"; i=$((i+1)); sleep 1; done; echo 'worker: out of memory' >&2; exit 137"]
  sinks   = ["file.all"]
  restart {
    policy       = "on-failure"
    backoff      = "2s"
    max_restarts = 100
    window       = "1h"
  }
}

process "batch" {
  command = ["sh", "-c", "while :; do i=0; while [ $i -lt 400 ]; do echo \"batch warning $i\" >&2; i=$((i+1)); done; sleep 10; done"]
  sinks   = ["file.all"]
}
