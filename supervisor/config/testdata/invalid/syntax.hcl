process "web" {
  command = ["sh", "-c", "echo hi"
}
