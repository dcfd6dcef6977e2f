process "web" {
  command = ["sh", "-c", "echo hi"]

  stop {
    timeout = "ten seconds"
  }
}
