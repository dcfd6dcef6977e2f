process "web" {
  command = ["sh", "-c", "echo hi"]
  comand  = ["oops"]
}
