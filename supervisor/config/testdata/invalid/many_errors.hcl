plugin_dir = ".prox/plugins"
colour     = "blue"

runner "container" "docker" {}
runner "container" "docker" {}

sink "file" "all" {}

plugin "fancy" {
  sha256 = "not-a-hash"
}

process "web server" {
  command = []
  runner  = "container.podman"
  sinks   = ["file.all", "nope", "file.missing"]
  bogus   = true

  stop {
    signal  = "SIGWHAT"
    timeout = "0s"
  }

  restart {
    policy        = "sometimes"
    backoff       = "1x"
    max_restarts  = -1
    success_codes = [0, 256]
  }

  container {
    image = "busybox"
  }

  container {
    image = "alpine"
  }
}

process "worker" {
  command = ["worker"]

  restart {
    backoff     = "10s"
    max_backoff = "5s"
    window      = "-1m"
  }

  exec {}
  docker {}
}

process "worker" {
  command = ["worker", "again"]
}
