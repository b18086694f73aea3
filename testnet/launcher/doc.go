// Package launcher implements `supertracker-lab testnet`: it starts a local
// overlay of real supertracker processes, each on its own 127.0.0.x
// address, drives it, reports what it saw and stops every process it
// started, on success, failure and Ctrl-C alike.
//
// [Run] carries out one scenario (package scenario) with one seed:
//
//  1. It generates the schedule (package workload) and writes
//     schedule.jsonl, scenario.json and the event log header
//     (events.jsonl, package events) into the output directory.
//  2. It starts node i on 127.0.0.(i+2) with a fixed libp2p port, API port
//     and data directory that it keeps across restarts (so a node keeps its
//     peer ID and multiaddr): the supernode-hinted nodes first (the first
//     alone, the others bootstrapping from it), then the rest, four at a
//     time. One function, nodeArgs, builds every command line from the
//     node's profile and the supernodes up at that moment. If the binary
//     has a `node` command (`supertracker node --help` exits 0, see
//     [Detect]) every peer runs `node --preset local` with the scenario's
//     election thresholds and its profile's bandwidth cap, `--role
//     supernode` for supernode-hinted profiles and `--role auto` for the
//     others; otherwise supernode-hinted profiles run `supernode --local` and
//     the others `leaf`. It waits (bounded) until every leaf reports an
//     attached supernode or the supernodes are full.
//  3. Schedule time zero is the "schedule_start" event. Each op runs at
//     zero + op.At: announces and lookups go through the node's HTTP API in
//     their own goroutine with the scenario's lookup timeout (announces
//     twice that, at least 10 s) and are skipped ("node_down") on a node not
//     up; kills are SIGKILL to the process group; restarts start the node
//     again in the background; kill_supernode picks supernode Index mod S
//     among the nodes whose last known role is supernode, by index.
//     A lookup's HoldersAlive counts the returned holders whose peer ID
//     belongs to a node whose process is running at completion.
//  4. About once a second it polls every live node's /v1/status and
//     /proc/PID/{stat,status}: RoleChange when the reported role differs
//     from the last known one, SupernodeSample (leaves, ρ, records, request
//     rate: the node's "req_per_s" if it reports one, else the rate of
//     inbound messages in its traffic counters), ResourceSample (CPU
//     seconds, RSS) and TrafficSample (status.traffic summed per class by
//     protocol ID: kad → dht, replicate/announce → announce, lookup →
//     lookup, the rest → other). A process that exits by itself gives a
//     NodeExit.
//  5. At the end of the window it waits for requests in flight, logs
//     RunEnd, stops every node (NodeKill cause "shutdown", SIGTERM then
//     SIGKILL), closes the log and writes the report (package report) next
//     to it, then prints the one-screen summary.
//
// Cancelling the context (Ctrl-C in Main) ends the run early the same way:
// requests in flight are abandoned without a result, RunEnd says
// "interrupted", the report covers what was measured, and the error wraps
// [ErrInterrupted]. Every process started is also registered in a
// [Cluster] that Run stops on every return path.
//
// StartSupernode, StartLeaf and RunDemo implement the small fixed demo
// (`supertracker-lab testnet --demo`) and serve end-to-end tests.
package launcher
