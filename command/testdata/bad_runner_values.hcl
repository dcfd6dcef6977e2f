runner "ssh" "box" {
  host                     = "127.0.0.1"
  user                     = "deploy"
  port                     = 70000
  identity_file            = "/nonexistent/id_ed25519"
  insecure_ignore_host_key = true
}

process "a" {
  command = ["true"]
  runner  = "ssh.box"
}
