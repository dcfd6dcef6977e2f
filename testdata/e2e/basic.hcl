process "echo" {
  command = ["../scripts/echo_hello.sh"]
}

process "long" {
  command = ["../scripts/long_running.sh"]
}

process "stubborn" {
  command = ["../scripts/ignore_sigterm.sh"]
  stop {
    timeout = "1s"
  }
}

process "family" {
  command = ["sh", "-c", "sleep 300 & sleep 301 & echo family ready; wait"]
}
