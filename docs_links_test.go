package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mdLink is the target of a markdown link, [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocsStandAlone checks that the documentation a user's clone holds
// points only at what that clone holds: every relative link of README.md,
// docs/*.md and examples/*/README.md names a file or folder of this
// repository, and no text names a path above the repository's root (the
// project's own notes beside it, ../shared, are not in a clone).
func TestDocsStandAlone(t *testing.T) {
	files := []string{"README.md"}
	for _, pattern := range []string{"docs/*.md", "examples/*/README.md"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	root, err := filepath.Abs(".")
	require.NoError(t, err)
	for _, file := range files {
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			at := file + ":" + strconv.Itoa(i+1)
			assert.NotContains(t, line, "../shared", "%s: the project's notes are not in a clone", at)
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				path := filepath.Join(filepath.Dir(file), target)
				abs, err := filepath.Abs(path)
				require.NoError(t, err)
				if !assert.True(t, abs == root || strings.HasPrefix(abs, root+string(filepath.Separator)), "%s: %s is outside the repository", at, m[1]) {
					continue
				}
				_, err = os.Stat(path)
				assert.NoError(t, err, "%s: the link %s names nothing in the repository", at, m[1])
			}
		}
	}
}
