#!/bin/sh
# Latency of the control commands against a real `prox up`, from the
# repository's root:
#
#   sh bench/control/run.sh            # 20 runs of each command
#   RUNS=50 sh bench/control/run.sh
#
# It builds prox, starts `prox up -quiet` on a configuration of 200
# sleeping processes, one process that printed 5,000 lines (1,000 kept) and
# a writer, then times, RUNS times each, whole runs of the CLI as a user
# types them (process start included): `prox ps`, `prox ps -json` and
# `prox logs -n 1000`, with `prox version` (no request) as the floor; it
# prints the median and the slowest. Then it times
# the writer printing 100,000 lines with no follower and with 50 `prox logs
# -f` followers (median of 3 each), and the CPU time prox up spends on it.
# Needs sh, seq, date, awk, curl and /proc.
set -eu
cd "$(dirname "$0")/../.."
if [ -x /usr/local/go/bin/go ]; then
	PATH="/usr/local/go/bin:$PATH"
fi
RUNS=${RUNS:-20}
tmp=$(mktemp -d /tmp/prox-bench-control.XXXXXX)
up_pid=""
cleanup() {
	[ -n "$up_pid" ] && kill -TERM "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
	pkill -TERM -P $$ 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

go build -o "$tmp/prox" .
prox="$tmp/prox"

cfg="$tmp/prox.hcl"
{
	i=1
	while [ "$i" -le 200 ]; do
		printf 'process "p%03d" {\n  command = ["sleep", "3600"]\n}\n' "$i"
		i=$((i + 1))
	done
	cat <<'EOF'
process "chatty" {
  command = ["sh", "-c", "seq 1 5000; exec sleep 3600"]
}
process "writer" {
  command = ["sh", "-c", "while :; do while [ ! -e go ]; do sleep 0.01; done; s=$(date +%s%N); seq 1 100000; e=$(date +%s%N); echo $(( (e - s) / 1000000 )) >> elapsed; rm -f go; done"]
}
EOF
} >"$cfg"

"$prox" up -config "$cfg" -quiet -log-level warn 2>"$tmp/up.log" &
up_pid=$!
sock="$tmp/.prox/prox.sock"

# Wait (at most a minute) until all 202 processes run.
i=0
until [ "$("$prox" ps -config "$cfg" 2>/dev/null | grep -c ' running ')" = 202 ]; do
	i=$((i + 1))
	if [ "$i" -gt 600 ]; then
		echo "prox up did not start every process:" >&2
		cat "$tmp/up.log" >&2
		exit 1
	fi
	sleep 0.1
done
until [ "$("$prox" logs -config "$cfg" -n 1000 chatty | wc -l)" = 1000 ]; do sleep 0.1; done

now_ns() { date +%s%N; }

# median_ms CMD...: runs CMD $RUNS times and prints "median max" in ms.
median_ms() {
	: >"$tmp/times"
	n=0
	while [ "$n" -lt "$RUNS" ]; do
		s=$(now_ns)
		"$@" >/dev/null
		e=$(now_ns)
		echo $(((e - s) / 1000)) >>"$tmp/times"
		n=$((n + 1))
	done
	sort -n "$tmp/times" | awk '{ v[NR] = $1 } END {
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f ms (slowest %.1f ms)", m / 1000, v[NR] / 1000 }'
}

echo "prox $("$prox" version | head -1 | cut -d' ' -f2), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each"
echo "prox version (the CLI's start):    $(median_ms "$prox" version)"
echo "prox ps (202 processes):           $(median_ms "$prox" ps -config "$cfg")"
echo "prox ps -json (202 processes):     $(median_ms "$prox" ps -json -config "$cfg")"
echo "prox logs -n 1000:                 $(median_ms "$prox" logs -config "$cfg" -n 1000)"
echo "curl /v1/processes (no CLI start): $(median_ms curl -sf --unix-socket "$sock" http://prox/v1/processes)"

# cpu_ticks: the CPU time of prox up so far (user + system, clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$up_pid/stat"; }
hz=$(getconf CLK_TCK)

# writer_run: one run of the writer; prints its own measure of the 100,000
# lines (the file elapsed, in ms) and the CPU time prox up spent meanwhile
# (ms), until the followers' streams are idle again.
writer_run() {
	c0=$(cpu_ticks)
	touch "$tmp/go"
	while [ -e "$tmp/go" ]; do sleep 0.05; done
	# Let the followers drain: prox's CPU stops moving.
	prev=-1
	cur=$(cpu_ticks)
	while [ "$cur" != "$prev" ]; do
		prev=$cur
		sleep 0.5
		cur=$(cpu_ticks)
	done
	echo "$(tail -n 1 "$tmp/elapsed") $(((cur - c0) * 1000 / hz))"
}

# median3: the median of three "wall cpu" lines, by wall time.
median3() { sort -n | awk '{ v[NR] = $0 } END { print v[2] }'; }

set -- $( (writer_run; writer_run; writer_run) | median3)
echo "writer, 100,000 lines, no follower:   $1 ms (prox up CPU: $2 ms)"
n=0
while [ "$n" -lt 50 ]; do
	"$prox" logs -config "$cfg" -f -n 0 writer >/dev/null 2>&1 &
	n=$((n + 1))
done
until curl -sf --unix-socket "$sock" http://prox/v1/status | grep -q '"log_followers":50'; do sleep 0.1; done
set -- $( (writer_run; writer_run; writer_run) | median3)
echo "writer, 100,000 lines, 50 followers:  $1 ms (prox up CPU: $2 ms, draining the followers included)"
