process "web" {
  command = ["sh", "-c", "echo hi"]

  stop {
    signal = "SIGNOPE"
  }
}
