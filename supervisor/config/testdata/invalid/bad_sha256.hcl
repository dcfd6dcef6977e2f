plugin "fancy" {
  path   = "./bin/prox-plugin-fancy"
  sha256 = "abc123"
}
