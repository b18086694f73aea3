package main

import "github.com/supertracker/supertracker/election/node"

// daemonUsage: per role, the usage line, the synopsis, and the help of
// --data, --preset and --supernode.
var daemonUsage = map[node.Role][5]string{
	node.RoleSupernode: {"supernode --listen MULTIADDR --data DIR [--bootstrap MULTIADDR[,…]] [--api HOST:PORT] [--config FILE]",
		`Runs a supernode: a kad-dht server (protocol prefix /supertracker) that
stores leaves' signed object→peer records and serves leaf sessions. Prints
each full listen multiaddr (ending in /p2p/PEERID) on its own line at start.
Records, the record index and the peerstore are kept in DATA/datastore, so a
restart on the same --data serves every record that has not expired. On
SIGINT/SIGTERM it hands its leaves over to other supernodes, flushes its
store and exits 0; a second signal exits at once.

With --api it also serves the status page (/), /metrics and /healthz.`,
		"data directory: identity key, datastore (required)",
		"timing preset: default, or local (testnets: 1 s heartbeats, 3 s session timeout)", ""},
	node.RoleLeaf: {"leaf --listen MULTIADDR --data DIR --supernode MULTIADDR[,…] --api HOST:PORT [--config FILE]",
		`Runs a leaf agent: it attaches to the lowest-RTT supernode plus backups,
announces and looks up objects through it, fails over when it is lost, and
serves a local HTTP/JSON API for desktop apps (see README: API), a status
page (/), /metrics and /healthz. On SIGINT/SIGTERM it detaches from its
supernodes and exits 0.`,
		"data directory: identity key and announced objects (required)",
		"timing preset: default, or local (testnets: new supernodes are found within seconds); a leaf takes its heartbeat " +
			"and session timings from the supernodes it attaches to",
		"supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated (required)"},
	node.RoleElected: {"node --listen MULTIADDR --data DIR [--supernode MULTIADDR[,…]] [--bootstrap MULTIADDR[,…]] --api HOST:PORT [--config FILE]",
		`Runs a node that elects its own role: it starts as a leaf and promotes
itself to supernode when its measured uptime, upload bandwidth, reachability
(verified by a dial-back) and headroom make it eligible AND the supernodes'
load says another is needed; it steps down when it is no longer fit or
needed, handing its leaves over, without a restart. Nodes started together
with no supernode elect one among themselves (a node alone cannot be
measured: --role supernode forces it). A supernode that wakes from a
suspension (system sleep, SIGSTOP) steps down at once.

While a supernode its records and peerstore live in DATA/datastore and
survive restarts. On SIGINT/SIGTERM a supernode hands its leaves over first;
the node detaches, saves its uptime history and exits 0. --api also serves
the status page (/), /metrics and /healthz.

--preset local uses thresholds in seconds for testnets; every threshold flag
below overrides the preset.`,
		"data directory: identity key, announced objects, uptime history, datastore (required)",
		"threshold preset: default (hours, as Gnutella did) or local (seconds, testnets)",
		"supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated"},
}
