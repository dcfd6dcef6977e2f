process "web" {
  command = ["sh", "-c", "echo hi"]

  restart {
    policy = "sometimes"
  }
}
