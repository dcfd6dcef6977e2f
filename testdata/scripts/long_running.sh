#!/bin/sh
# Ticks every 0.2 s until SIGTERM, then exits 0.
trap 'echo "long_running got SIGTERM"; exit 0' TERM
echo "long_running started"
n=0
while :; do
	n=$((n + 1))
	echo "tick $n"
	sleep 0.2
done
