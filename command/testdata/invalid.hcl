process "web" {
  command = ["sh", "-c", "echo hi"]
  colour  = "red"
  stop {
    timeout = "soon"
  }
}

process "web" {
  command = []
  runner  = "ssh.nowhere"
}
