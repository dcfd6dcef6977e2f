process "web" {
  command = ["sh", "-c", "echo hi"]

  restart {
    policy  = "always"
    backoff = "-1s"
  }
}
