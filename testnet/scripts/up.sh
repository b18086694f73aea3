#!/usr/bin/env bash
# up.sh N — start a long-running local overlay of N processes, node i on
# 127.0.0.(i+2): nodes 0–2 supernodes, the rest leaves (or, when the binary
# has `node`, self-electing nodes). Records "index pid role api multiaddr"
# per node in $STATE/nodes. See README.md.
source "$(dirname "$0")/lib.sh"

N=${1:-}
[[ $N =~ ^[0-9]+$ && $N -ge 1 && $N -le 251 ]] || die "usage: up.sh N   (1 ≤ N ≤ 251)"
ensure_bin
mode=$(resolve_mode)
if [[ -f $NODES ]]; then
	while read -r _ pid _; do
		alive "$pid" && die "an overlay is already up in $STATE (run down.sh first)"
	done <"$NODES"
fi
mkdir -p "$STATE"
rm -f "$NODES"
trap 'echo "up.sh: failed; stopping what started" >&2; "$(dirname "$0")/down.sh" >&2 || true' ERR

supernodes=() # multiaddrs of the supernodes started so far
for ((i = 0; i < N; i++)); do
	ip=$(node_ip "$i")
	api=$ip:$API_PORT
	common="--listen /ip4/$ip/tcp/$P2P_PORT --data $STATE/node$i --api $api --log-level $LOG_LEVEL"
	sns=$(IFS=,; echo "${supernodes[*]:-}")
	if ((i < 3)); then
		role=supernode
		if [[ $mode == node ]]; then
			cmd="node $common --preset local --role supernode"
		else
			cmd="supernode $common --local"
		fi
		[[ -n $sns ]] && cmd+=" --bootstrap $sns"
	else
		if [[ $mode == node ]]; then
			role=auto
			cmd="node $common --preset local --role auto --supernode $sns --bootstrap $sns"
		else
			role=leaf
			cmd="leaf $common --supernode $sns"
		fi
	fi
	echo "$cmd" >"$STATE/node$i.cmd"
	echo "$api" >"$STATE/node$i.api"
	pid=$(launch "$i")
	addr=$(grep -m1 '/p2p/' "$STATE/node$i.out")
	printf '%s\t%s\t%s\t%s\t%s\n' "$i" "$pid" "$role" "$api" "$addr" >>"$NODES"
	((i < 3)) && supernodes+=("$addr")
	printf 'node %-3d %-9s pid %-7s api %-18s %s\n' "$i" "$role" "$pid" "$api" "$addr"
done
trap - ERR
echo "overlay of $N nodes up ($mode mode); state in $STATE; ls.sh to list, down.sh to stop"
