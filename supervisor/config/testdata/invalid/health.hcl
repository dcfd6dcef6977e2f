process "a" {
  command = ["sh", "-c", "sleep 100"]
  health {
    interval = "-1s"
    http {
      url = "localhost:8080/health"
    }
  }
}

process "b" {
  command = ["sh", "-c", "sleep 100"]
  health {
    on_unhealthy      = "panic"
    failure_threshold = 0
  }
}

process "c" {
  command = ["sh", "-c", "sleep 100"]
  health {
    tcp {
      address = "nowhere"
    }
    log {
      match = "(unclosed"
    }
  }
}

process "d" {
  command = ["sh", "-c", "sleep 100"]
  health {
    tcp {}
  }
}
