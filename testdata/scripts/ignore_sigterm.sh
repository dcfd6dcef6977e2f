#!/bin/sh
# Ignores SIGTERM (reporting it); only SIGKILL ends it. Short sleeps let the
# trap run promptly.
trap 'echo "ignoring SIGTERM"' TERM
echo "ignore_sigterm started"
while :; do
	sleep 0.1
done
