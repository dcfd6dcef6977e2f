process "web" {
  command = ["sh", "-c", "echo one"]
}

process "web" {
  command = ["sh", "-c", "echo two"]
}
