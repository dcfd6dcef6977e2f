process "backup" {
  command = ["sh", "-c", "tar czf ${HOME}/backup.tgz ."]
  env     = { GREETING = "hello ${USER}" }
}
