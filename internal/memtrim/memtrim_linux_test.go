package memtrim

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exeResidentKB sums the Rss of the executable's mappings in
// /proc/self/smaps.
func exeResidentKB(t *testing.T) int {
	t.Helper()
	exe, err := os.Readlink("/proc/self/exe")
	require.NoError(t, err)
	f, err := os.Open("/proc/self/smaps")
	require.NoError(t, err)
	defer f.Close()
	total, inExe := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			inExe = len(fields) >= 6 && fields[5] == exe
			continue
		}
		if inExe && len(fields) == 3 && fields[0] == "Rss:" {
			kb, err := strconv.Atoi(fields[1])
			require.NoError(t, err)
			total += kb
		}
	}
	require.NoError(t, sc.Err())
	return total
}

func TestDropExecutablePagesShrinksTheResidentSet(t *testing.T) {
	before := exeResidentKB(t)
	advised, err := DropExecutablePages()
	require.NoError(t, err)
	after := exeResidentKB(t)
	assert.Positive(t, advised, "the test binary's code and read-only data are clean mappings")
	// The test's own code comes back as it runs, far less than what the
	// start of the test binary touched.
	assert.Less(t, after, before, "resident KB of the executable before %d, after %d", before, after)
	t.Logf("executable resident: %d kB before, %d kB after; advised %d kB", before, after, advised>>10)

	// Everything still runs: code and data are read back from the file.
	Release()
	assert.Equal(t, "42", strconv.Itoa(42))
}

const smapsSample = `00400000-00800000 r-xp 00000000 fe:00 1234                               /usr/bin/prox
Size:               4096 kB
Rss:                2048 kB
Anonymous:             0 kB
Private_Dirty:         0 kB
VmFlags: rd ex mr mw me sd
00800000-00c00000 r--p 00400000 fe:00 1234                               /usr/bin/prox
Size:               4096 kB
Anonymous:            12 kB
VmFlags: rd mr mw me sd
00c00000-00d00000 rw-p 00800000 fe:00 1234                               /usr/bin/prox
Anonymous:             0 kB
00d00000-00e00000 r--p 00900000 fe:00 1234                               /usr/bin/prox
Anonymous:             0 kB
Private_Dirty:        40 kB
00e00000-00f00000 r--p 00000000 fe:00 999                                /usr/lib/libc.so.6
Anonymous:             0 kB
00f00000-01000000 r--p 00000000 fe:01 1234                               /other/device/same/inode
Anonymous:             0 kB
01000000-01100000 rw-p 00000000 00:00 0
Anonymous:            64 kB
`

func TestCleanReadOnlyPicksOnlyTheExecutablesCleanReadOnlyMappings(t *testing.T) {
	maps, err := cleanReadOnly(strings.NewReader(smapsSample), fileID{dev: "fe:00", ino: 1234})
	require.NoError(t, err)
	// Not the relocated (private) read-only mapping, not the writable one,
	// not another file's, not the same inode of another device.
	assert.Equal(t, []mapping{{start: 0x400000, end: 0x800000}, {start: 0xd00000, end: 0xe00000}}, maps)
}
