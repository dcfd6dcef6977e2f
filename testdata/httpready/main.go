// Command httpready is a test HTTP server that answers /health with 503
// until a delay has passed, then with 200: a dependency that becomes
// healthy late.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	delay := flag.Duration("delay", time.Second, "time before /health answers 200")
	flag.Parse()
	var ready atomic.Bool
	time.AfterFunc(*delay, func() {
		ready.Store(true)
		fmt.Println("httpready: ready")
	})
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if ready.Load() {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	fmt.Println("httpready: listening on", *addr)
	if err := http.ListenAndServe(*addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
