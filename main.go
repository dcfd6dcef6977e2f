// Command prox is a process supervisor with out-of-process runner and log
// sink plugins. See README.md.
package main

import (
	"os"

	"github.com/prox-dev/prox/command"
)

func main() {
	os.Exit(command.Run(os.Args[1:]))
}
