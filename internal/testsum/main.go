// Command testsum reads the events of `go test -json` on stdin and prints
// what a person wants from a run of the whole suite: each package's result
// line, the output of every test that failed (and of a package that did
// not build), and at the end one count line, "N passed, N failed, N
// skipped". It exits 1 when a test or a package failed. scripts/test.sh
// runs it; with -summary FILE it also writes the count line there.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

// counts is what a run came to.
type counts struct {
	passed, failed, skipped int
	// broken counts packages that failed without a failing test: a build
	// error, a panic in TestMain, a timeout.
	broken int
}

func (c counts) String() string {
	s := fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
	switch {
	case c.broken == 1:
		s += " (and 1 package failed outside a test)"
	case c.broken > 1:
		s += fmt.Sprintf(" (and %d packages failed outside a test)", c.broken)
	}
	return s
}

func main() {
	summary := flag.String("summary", "", "also write the count line to this file")
	flag.Parse()
	c, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(1)
	}
	line := c.String()
	fmt.Println(line)
	if *summary != "" {
		if err := os.WriteFile(*summary, []byte(line+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testsum:", err)
			os.Exit(1)
		}
	}
	if c.failed > 0 || c.broken > 0 {
		os.Exit(1)
	}
}

// summarize reads the events of r, writes what a person reads to w, and
// returns the counts.
func summarize(r io.Reader, w io.Writer) (counts, error) {
	var c counts
	// output holds the lines of each running top-level test and its
	// subtests, by "package test", until the test ends: a failed test's
	// are written, a passing test's dropped.
	output := map[string]*strings.Builder{}
	failedTests := map[string]int{} // failed top-level tests, by package
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var ev event
		if err := json.Unmarshal(line, &ev); err != nil || ev.Action == "" {
			// Not an event (go vet, a message of the go command).
			fmt.Fprintf(w, "%s\n", line)
			continue
		}
		top, _, sub := strings.Cut(ev.Test, "/")
		key := ev.Package + " " + top
		switch {
		case ev.Action == "build-output":
			io.WriteString(w, ev.Output)
		case ev.Action == "build-fail":
			c.broken++
		case ev.Test == "":
			// A package's own lines: its result, and what it printed
			// outside any test.
			if ev.Action == "output" && ev.Output != "PASS\n" && ev.Output != "FAIL\n" {
				io.WriteString(w, ev.Output)
			}
			if ev.Action == "fail" {
				// A test still running when its package failed (a panic,
				// a timeout): what it printed says why.
				for k, b := range output {
					if strings.HasPrefix(k, ev.Package+" ") {
						io.WriteString(w, b.String())
						delete(output, k)
					}
				}
				if failedTests[ev.Package] == 0 {
					c.broken++
				}
			}
		case ev.Action == "output":
			b := output[key]
			if b == nil {
				b = &strings.Builder{}
				output[key] = b
			}
			b.WriteString(ev.Output)
		case sub:
			// A subtest ended: it counts with its test.
		case ev.Action == "pass" || ev.Action == "skip":
			if ev.Action == "pass" {
				c.passed++
			} else {
				c.skipped++
			}
			delete(output, key)
		case ev.Action == "fail":
			c.failed++
			failedTests[ev.Package]++
			if b := output[key]; b != nil {
				io.WriteString(w, b.String())
			}
			delete(output, key)
		}
	}
	return c, sc.Err()
}
