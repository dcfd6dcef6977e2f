process "a" {
  command = ["true"]
  sinks   = ["webhook.alerts", "file.all", "file.blocked"]
}

sink "webhook" "alerts" {
  url      = "hooks.example.com/x"
  match    = "panic(["
  cooldown = "5m"
}

sink "file" "all" {
  path     = "/proc/no-such-dir/all.log"
  max_size = "big"
}

sink "file" "blocked" {
  path = "valid.hcl/all.log"
}
