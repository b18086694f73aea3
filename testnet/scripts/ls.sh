#!/usr/bin/env bash
# ls.sh — list the overlay's nodes: pid, whether the process runs, the role
# it was started as and its live role (from `supertracker status --json`),
# leaves/records (supernodes) or attached supernodes (leaves), API, address.
source "$(dirname "$0")/lib.sh"

[[ -f $NODES ]] || die "no overlay in $STATE (run up.sh first)"
printf '%-4s %-8s %-5s %-9s %-9s %-24s %-18s %s\n' NODE PID STATE STARTED ROLE DETAIL API MULTIADDR
while IFS=$'\t' read -r i pid role api addr; do
	state=down live=- detail=-
	if alive "$pid"; then
		state=up
		if st=$("$BIN" status --api "$api" --json 2>/dev/null); then
			live=$(jq -r '.role // "-"' <<<"$st")
			if [[ $live == supernode ]]; then
				detail=$(jq -r '"leaves \(.leaves // 0)/\(.max_leaves // 0) rec \(.records // 0)"' <<<"$st")
			else
				detail=$(jq -r '"attached to \(.supernodes // [] | length)"' <<<"$st")
			fi
		else
			live=?
		fi
	fi
	printf '%-4s %-8s %-5s %-9s %-9s %-24s %-18s %s\n' "$i" "$pid" "$state" "$role" "$live" "$detail" "$api" "$addr"
done <"$NODES"
