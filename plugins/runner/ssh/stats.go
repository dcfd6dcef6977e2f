package ssh

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prox-dev/prox/internal/procstat"
	"github.com/prox-dev/prox/sdk"
)

var _ sdk.ProcessStatter = (*Process)(nil)

// statsScript prints the remote page size, then, for every process of the
// group %d, its /proc/PID/stat line and its statm line after "m ". The
// group is found by the fifth field of each stat line (its process group),
// counted after the command name's closing parenthesis, since the name
// may hold spaces. A process that ends meanwhile is skipped.
const statsScript = `echo "pagesize $(getconf PAGESIZE 2>/dev/null || echo 4096)"; ` +
	`cd /proc || exit 1; for p in [0-9]*; do ` +
	`{ read -r l < "$p/stat"; } 2>/dev/null || continue; ` +
	`r=${l##*) }; set -- $r; [ "$3" = %d ] || continue; ` +
	`{ read -r m < "$p/statm"; } 2>/dev/null || continue; ` +
	`printf '%%s\nm %%s\n' "$l" "$m"; done`

// Stats reads the CPU time and resident memory of the remote process
// group from the remote /proc, over the process's connection: the sums of
// its processes' utime, stime (and their reaped children's) and resident
// sets. When that connection has no session left (sshd's MaxSessions), it
// reads over another connection to the same server. Once the process has
// exited it is an error; so is a remote host without /proc.
func (p *Process) Stats(ctx context.Context) (sdk.ProcessStats, error) {
	if p.exited() {
		return sdk.ProcessStats{}, fmt.Errorf("stats of remote process group %d: %w", p.pgid, errNotRunning)
	}
	line := "exec /bin/sh -c " + shellQuote(fmt.Sprintf(statsScript, p.pgid))
	res, err := p.conn.run(ctx, line)
	if errors.Is(err, errSessionRefused) && p.connect != nil {
		// Its connection holds all the sessions the server allows: read
		// the same host's /proc over another one.
		var c *conn
		if c, err = p.connect(ctx); err == nil {
			res, err = c.run(ctx, line)
		}
	}
	if err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("stats of remote process group %d: %w", p.pgid, err)
	}
	if code := res.status.exitCode(); code != 0 {
		return sdk.ProcessStats{}, fmt.Errorf("stats of remote process group %d: exit code %d: %s", p.pgid, code, strings.TrimSpace(res.stderr))
	}
	st, err := parseGroupStats(res.stdout)
	if err != nil {
		return sdk.ProcessStats{}, fmt.Errorf("stats of remote process group %d: %w", p.pgid, err)
	}
	st.Time = time.Now()
	return st, nil
}

// parseGroupStats sums the output of statsScript.
func parseGroupStats(out string) (sdk.ProcessStats, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	size, ok := strings.CutPrefix(lines[0], "pagesize ")
	if !ok {
		return sdk.ProcessStats{}, fmt.Errorf("no page size in %q", lines[0])
	}
	pageSize, err := strconv.ParseUint(strings.TrimSpace(size), 10, 64)
	if err != nil || pageSize == 0 {
		return sdk.ProcessStats{}, fmt.Errorf("page size %q", size)
	}
	rest := lines[1:]
	if len(rest) == 0 {
		return sdk.ProcessStats{}, errors.New("no process of the group in the remote /proc")
	}
	if len(rest)%2 != 0 {
		return sdk.ProcessStats{}, fmt.Errorf("%d lines of stat and statm, want pairs", len(rest))
	}
	var st sdk.ProcessStats
	for i := 0; i < len(rest); i += 2 {
		cpu, err := procstat.ParseStat([]byte(rest[i]))
		if err != nil {
			return sdk.ProcessStats{}, fmt.Errorf("stat: %w", err)
		}
		statm, ok := strings.CutPrefix(rest[i+1], "m ")
		if !ok {
			return sdk.ProcessStats{}, fmt.Errorf("statm line %q", rest[i+1])
		}
		mem, err := procstat.ParseStatm([]byte(statm), pageSize)
		if err != nil {
			return sdk.ProcessStats{}, fmt.Errorf("statm: %w", err)
		}
		st.CPU += cpu
		st.MemoryBytes += mem
	}
	return st, nil
}
