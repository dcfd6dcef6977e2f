process "hello" {
  command = ["../../testdata/scripts/echo_hello.sh"]
}

process "long" {
  command = ["../../testdata/scripts/long_running.sh"]
  stop {
    timeout = "5s"
  }
}
