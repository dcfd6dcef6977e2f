process "web" {
  command = ["sh", "-c", "echo hi"]
  exec {
    bogus = 1
  }
}
