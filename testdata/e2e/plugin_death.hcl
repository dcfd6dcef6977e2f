process "family" {
  command = ["sh", "-c", "sleep 300 & sleep 301 & echo family ready; wait"]
  restart {
    policy  = "on-failure"
    backoff = "100ms"
  }
}
