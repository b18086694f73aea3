# Shared by the testnet scripts; source it, do not run it.
# Environment:
#   SUPERTRACKER_BIN  the binary (default: <repo>/bin/supertracker, built if missing)
#   STATE             state directory (default: ${TMPDIR:-/tmp}/supertracker-testnet)
#   MODE              auto (default: `node` if the binary has it), node or classic
#   LOG_LEVEL         nodes' --log-level (default info)
#   P2P_PORT/API_PORT ports every node uses on its own 127.0.0.x (default 4001/5001)

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${SUPERTRACKER_BIN:-$REPO/bin/supertracker}
STATE=${STATE:-${TMPDIR:-/tmp}/supertracker-testnet}
MODE=${MODE:-auto}
LOG_LEVEL=${LOG_LEVEL:-info}
P2P_PORT=${P2P_PORT:-4001}
API_PORT=${API_PORT:-5001}
NODES=$STATE/nodes # one line per node: index pid role api multiaddr

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

ensure_bin() {
	if [[ ! -x $BIN ]]; then
		[[ -z ${SUPERTRACKER_BIN:-} ]] || die "$BIN is not executable"
		echo "building $BIN" >&2
		(cd "$REPO" && go build -o "$BIN" ./cmd/supertracker)
	fi
}

# resolve_mode prints node or classic.
resolve_mode() {
	case $MODE in
	node | classic) echo "$MODE" ;;
	auto) if "$BIN" node --help >/dev/null 2>&1; then echo node; else echo classic; fi ;;
	*) die "MODE=$MODE is not auto, node or classic" ;;
	esac
}

node_ip() { echo "127.0.0.$(($1 + 2))"; }

alive() { [[ $1 =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null; }

# field I COL prints column COL (1 index, 2 pid, 3 role, 4 api, 5 multiaddr) of node I.
field() {
	[[ -f $NODES ]] || die "no overlay in $STATE (run up.sh first)"
	local v
	v=$(awk -v i="$1" -v c="$2" '$1 == i { print $c }' "$NODES")
	[[ -n $v ]] || die "no node $1 in $NODES"
	echo "$v"
}

# set_pid I PID rewrites node I's pid in the nodes file.
set_pid() {
	awk -v i="$1" -v p="$2" 'BEGIN { OFS = "\t" } $1 == i { $2 = p } { print }' "$NODES" >"$NODES.tmp"
	mv "$NODES.tmp" "$NODES"
}

# launch I: runs the command line saved in $STATE/nodeI.cmd in its own
# session (so it is its own process group), waits for its /p2p/ address and
# its API, and prints its pid.
launch() {
	local i=$1 api out pid addr
	api=$(<"$STATE/node$i.api")
	out=$STATE/node$i.out
	: >"$out"
	# shellcheck disable=SC2046
	setsid "$BIN" $(<"$STATE/node$i.cmd") >"$out" 2>>"$STATE/node$i.log" </dev/null &
	pid=$!
	for _ in $(seq 300); do # 30 s
		alive "$pid" || die "node $i exited at start; see $STATE/node$i.log"
		addr=$(grep -m1 '/p2p/' "$out" || true)
		if [[ -n $addr ]] && curl -fsS -m 1 "http://$api/v1/status" >/dev/null 2>&1; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || true
	die "node $i not ready within 30 s; see $STATE/node$i.log"
}

# stop_pid PID: SIGTERM its process group, SIGKILL after 5 s.
stop_pid() {
	local pid=$1
	alive "$pid" || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
	for _ in $(seq 20); do
		alive "$pid" || return 0
		sleep 0.1
	done
	return 1
}
