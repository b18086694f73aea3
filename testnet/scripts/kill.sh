#!/usr/bin/env bash
# kill.sh I — SIGKILL node I (its process group), as a crash would.
source "$(dirname "$0")/lib.sh"

i=${1:-}
[[ $i =~ ^[0-9]+$ ]] || die "usage: kill.sh I"
pid=$(field "$i" 2)
alive "$pid" || die "node $i (pid $pid) is not running"
kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
for _ in $(seq 50); do
	alive "$pid" || { echo "node $i (pid $pid) killed"; exit 0; }
	sleep 0.1
done
die "node $i (pid $pid) still running after SIGKILL"
