#!/usr/bin/env bash
# restart.sh I — start node I again with its original command line, on the
# same address, ports and data directory (same peer ID); a running node is
# stopped first (SIGTERM).
source "$(dirname "$0")/lib.sh"

i=${1:-}
[[ $i =~ ^[0-9]+$ ]] || die "usage: restart.sh I"
pid=$(field "$i" 2)
if alive "$pid"; then
	stop_pid "$pid" || die "node $i (pid $pid) did not stop"
fi
pid=$(launch "$i")
set_pid "$i" "$pid"
echo "node $i restarted: pid $pid api $(field "$i" 4)"
