sink "file" "all" {
  path = "all.log"
}

process "web" {
  command = ["sh", "-c", "echo hi"]
  sinks   = ["file.all", "file.errors"]
}
