process "web" {
  command = ["sh", "-c", file("does-not-exist.sh")]
}
