runner "container" "docker" {
  socket = "/var/run/docker.sock"
}

process "db" {
  runner = "container.podman"
}
