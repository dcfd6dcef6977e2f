process "web" {
  runner  = "teleport"
  command = ["sh", "-c", "echo hi"]
}
