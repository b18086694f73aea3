#!/usr/bin/env bash
# down.sh [--clean] — stop every node of the overlay (SIGTERM, SIGKILL after
# 5 s), verify that none is left, and with --clean remove the state dir.
source "$(dirname "$0")/lib.sh"

[[ -f $NODES ]] || { echo "no overlay in $STATE"; exit 0; }
pids=()
while IFS=$'\t' read -r _ pid _; do
	alive "$pid" && pids+=("$pid")
done <"$NODES"
for pid in "${pids[@]}"; do
	alive "$pid" && kill -TERM -- "-$pid" 2>/dev/null || true
done
left=()
for pid in "${pids[@]}"; do
	stop_pid "$pid" || left+=("$pid")
done
# Anything still running from this state dir (e.g. a node started by hand)?
if stray=$(pgrep -f -- "--data $STATE/node" 2>/dev/null); then
	left+=($stray)
fi
if ((${#left[@]} > 0)); then
	die "still running: ${left[*]}"
fi
echo "stopped ${#pids[@]} node(s); none left"
if [[ ${1:-} == --clean ]]; then
	rm -rf -- "$STATE"
	echo "removed $STATE"
fi
