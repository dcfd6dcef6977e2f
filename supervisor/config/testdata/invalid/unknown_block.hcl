process "web" {
  command = ["sh", "-c", "echo hi"]

  container {
    image = "busybox"
  }
}
