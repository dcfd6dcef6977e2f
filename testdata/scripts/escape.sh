#!/bin/sh
# Starts descendants that try to outlive it, prints their PIDs, then sleeps:
# "setsid PID", a child in a session (and process group) of its own;
# "orphan PID", a double fork: its parent exits at once, it stays in the group;
# "daemon PID", a double fork into a session of its own, as a daemon does.
setsid sh -c 'echo "setsid $$"; exec sleep 3600' &
( sh -c 'echo "orphan $$"; exec sleep 3601' & )
( setsid sh -c 'echo "daemon $$"; exec sleep 3602' & )
echo "escape started"
exec sleep 3603
