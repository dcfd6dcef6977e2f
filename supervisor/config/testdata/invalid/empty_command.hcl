process "web" {
  command = []
}
