process "db" {
  command    = ["sh", "-c", "sleep 100"]
  depends_on = ["api"]
}

process "api" {
  command = ["sh", "-c", "sleep 100"]
  depends_on "db" {
    condition = "healthy"
  }
  depends_on "cache" {}
}

process "worker" {
  command    = ["sh", "-c", "sleep 100"]
  depends_on = ["worker", "api", "api"]
  depends_on "db" {
    condition = "ready"
  }
}
