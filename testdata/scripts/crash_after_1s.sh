#!/bin/sh
# Runs for a second, then fails with exit code 3.
echo "crash_after_1s started"
sleep 1
echo "crashing" >&2
exit 3
