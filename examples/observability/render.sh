#!/bin/sh
# render.sh: draws docs/images/observability.png from real data. It runs
# prox with this folder's prox.hcl under a private Prometheus (Debian
# prometheus) scraping it every second for MINUTES (default 4), then asks
# Prometheus for the series the dashboard graphs and plots four of its
# panels with gnuplot (Debian gnuplot-nox). Needs curl and jq.
#
#   go build -o /tmp/prox . && examples/observability/render.sh /tmp/prox [MINUTES]
set -eu
prox=$(realpath "$1")
minutes=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill $prox_pid $prom_pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metrics_port=$(free_port)
prom_port=$(free_port)

cp "$here/prox.hcl" "$work/prox.hcl"
(cd "$work" && PROX_METRICS_ADDRESS=127.0.0.1:$metrics_port "$prox" up -quiet >"$work/prox.log" 2>&1) &
prox_pid=$!

cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prox
    static_configs:
      - targets: ["127.0.0.1:$metrics_port"]
YML
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
	--web.listen-address=127.0.0.1:$prom_port >"$work/prometheus.log" 2>&1 &
prom_pid=$!

start=$(date +%s)
echo "render.sh: recording for $minutes minutes" >&2
sleep $((minutes * 60))
end=$(date +%s)

# query NAME PROMQL LEGEND-LABELS: one data file per series, "seconds value".
query() {
	curl -fsS "http://127.0.0.1:$prom_port/api/v1/query_range" \
		--data-urlencode "query=$2" --data-urlencode "start=$start" --data-urlencode "end=$end" --data-urlencode "step=2" \
		>"$work/$1.json"
	jq -r '.data.result | length' "$work/$1.json" >/dev/null
	n=$(jq -r '.data.result | length' "$work/$1.json")
	i=0
	while [ "$i" -lt "$n" ]; do
		jq -r ".data.result[$i].metric | [$3] | join(\" \")" "$work/$1.json" >"$work/$1.$i.title"
		jq -r ".data.result[$i].values[] | \"\(.[0] - $start) \(.[1])\"" "$work/$1.json" >"$work/$1.$i.dat"
		i=$((i + 1))
	done
}
query lines 'sum by (process, stream) (rate(prox_process_output_lines_total[15s])) > 0' '.process, .stream'
query restarts 'prox_process_restarts_total' '.process'
query cpu 'rate(prox_process_cpu_seconds_total[15s])' '.process'
query memory 'prox_process_memory_bytes / 1048576' '.process'

# style TITLE: one colour per process, dashed for stderr.
style() {
	case $1 in
	web*) c='#1b9e77' ;;
	worker*) c='#377eb8' ;;
	batch*) c='#984ea3' ;;
	*) c='#666666' ;;
	esac
	case $1 in
	*stderr) echo "lc rgb '$c' dt 2" ;;
	*) echo "lc rgb '$c' dt 1" ;;
	esac
}

plot() { # NAME: a gnuplot plot command over the series of NAME
	sep="plot"
	for f in "$work/$1".*.dat; do
		[ -s "$f" ] || continue
		title=$(cat "${f%.dat}.title")
		printf '%s "%s" using ($1/60):2 with lines lw 2 %s title "%s"' "$sep" "$f" "$(style "$title")" "$title"
		sep=","
	done
	echo
}
mkdir -p "$repo/docs/images"
{
	echo 'set terminal pngcairo noenhanced size 1400,900 font "sans,11"'
	echo "set output \"$repo/docs/images/observability.png\""
	echo 'set multiplot layout 2,2 title "prox /metrics as Prometheus scraped it (render.sh, examples/observability/prox.hcl)" font "sans,14"'
	echo 'set grid; set key top left; set xlabel "minutes"'
	echo 'set title "output lines per second: sum by (process, stream) (rate(prox_process_output_lines_total[15s]))" font "sans,10"'
	plot lines
	echo 'set title "restarts: prox_process_restarts_total" font "sans,10"'
	plot restarts
	echo 'set title "CPU (cores): rate(prox_process_cpu_seconds_total[15s])" font "sans,10"'
	plot cpu
	echo 'set title "memory MiB: prox_process_memory_bytes / 1048576" font "sans,10"'
	plot memory
	echo 'unset multiplot'
} >"$work/plot.gp"
gnuplot "$work/plot.gp"
echo "render.sh: wrote docs/images/observability.png" >&2
