package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"p"}`,
		`{"Action":"run","Package":"p","Test":"TestOK"}`,
		`{"Action":"output","Package":"p","Test":"TestOK","Output":"=== RUN   TestOK\n"}`,
		`{"Action":"pass","Package":"p","Test":"TestOK"}`,
		`{"Action":"run","Package":"p","Test":"TestBad"}`,
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"=== RUN   TestBad\n"}`,
		`{"Action":"output","Package":"p","Test":"TestBad/case","Output":"    bad_test.go:9: boom\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad/case"}`,
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad"}`,
		`{"Action":"run","Package":"p","Test":"TestSkipped"}`,
		`{"Action":"skip","Package":"p","Test":"TestSkipped"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
		`{"ImportPath":"q","Action":"build-output","Output":"q/x.go:1: syntax error\n"}`,
		`{"ImportPath":"q","Action":"build-fail"}`,
		`{"Action":"output","Package":"r","Output":"ok  \tr\t0.2s\n"}`,
		`{"Action":"pass","Package":"r"}`,
		`go: not an event`,
	}, "\n")
	var out strings.Builder
	c, err := summarize(strings.NewReader(in), &out)
	require.NoError(t, err)
	assert.Equal(t, counts{passed: 1, failed: 1, skipped: 1, broken: 1}, c)
	assert.Equal(t, "1 passed, 1 failed, 1 skipped (and 1 package failed outside a test)", c.String())
	assert.Equal(t, "=== RUN   TestBad\n    bad_test.go:9: boom\n--- FAIL: TestBad (0.00s)\n"+
		"FAIL\tp\t0.1s\n"+
		"q/x.go:1: syntax error\n"+
		"ok  \tr\t0.2s\n"+
		"go: not an event\n", out.String(), "a failed test's output, every package's result, build errors; no passing test's output")
}

func TestSummarizePanicShowsTheRunningTest(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"p","Test":"TestHang"}`,
		`{"Action":"output","Package":"p","Test":"TestHang","Output":"panic: test timed out\n"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t600s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	c, err := summarize(strings.NewReader(in), &out)
	require.NoError(t, err)
	assert.Equal(t, counts{broken: 1}, c)
	assert.Equal(t, "FAIL\tp\t600s\npanic: test timed out\n", out.String())
}

func TestCountsSayPackagesInTheRightNumber(t *testing.T) {
	assert.Equal(t, "0 passed, 0 failed, 0 skipped", counts{}.String())
	assert.Equal(t, "2 passed, 0 failed, 0 skipped (and 2 packages failed outside a test)", counts{passed: 2, broken: 2}.String())
}
