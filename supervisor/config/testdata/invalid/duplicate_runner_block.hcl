process "db" {
  runner = "container"

  container {
    image = "postgres"
  }

  container {
    image = "mysql"
  }
}
