// Package baseline runs the two reference tracker designs the sweep
// (package testnet/sweep) measures the supertracker overlay against, on the
// same testnet launcher, workload, churn schedule and metrics:
//
//   - server (the paper's DS+M+U): n real opentracker processes (Debian
//     package `opentracker`, built with a whitelist) on 127.0.0.x, and
//     BitTorrent clients that announce to and query all n over HTTP (BEP 3
//     announces, compact peers, BEP 12 style: every tracker of the list);
//   - flatdht: every peer a stock go-libp2p-kad-dht server (protocol prefix
//     /flatdht, Mode(ModeServer)) that publishes with Provide and looks up
//     with FindProvidersAsync, as IPFS does; no supernodes.
//
// # How the launcher drives a baseline
//
// The launcher (package testnet/launcher) starts `BINARY supernode …` for
// the nodes of supernode-hinted profiles and `BINARY leaf …` for the others
// (its classic mode), drives announces and lookups through each node's HTTP
// API (package protocol/httpapi), SIGKILLs the node's process group and
// restarts it by the churn schedule, and checks whether a returned holder's
// peer ID belongs to a live node. A baseline node is a process of this
// package's helper ([Main], run through a small wrapper script written by
// [WriteWrapper] that adds -config) that speaks that command line and that
// API, so the same launcher code runs all three designs.
//
// Holder population: a node started as `supernode` refuses announces with
// HTTP 501, exactly like a supertracker supernode in classic mode, so that
// in every design only the leaf-profile nodes hold objects; every node looks
// objects up.
//
// Server design, node i on 127.0.0.(i+2):
//
//   - if Config.Servers lists its IP, the node process hosts that tracker:
//     it starts `opentracker -i IP -p PORT -w whitelist -d DIR` as its child
//     in its own process group, so the launcher's SIGKILL of the node kills
//     the server too and a restart starts a fresh one with empty state: the
//     servers follow the churn schedule of nodes 0..n-1. Every opentracker
//     PID is appended to DIR/../opentracker.pids ([ServerPIDs]);
//   - announce: an HTTP announce of infohash [InfoHash](CID) to every
//     tracker of the list from the node's own IP (the client binds its
//     source address), port 6881, left=0; accepted if one tracker took it;
//   - lookup: an announce from port 6882 with left=1, numwant=50 to every
//     tracker in parallel; the holders are the returned peers on port 6881
//     (lookers are on 6882 and are not holders), each mapped to the
//     deterministic peer ID of its IP ([PeerIDForIP]);
//   - a holder re-announces what it holds every Config.Refresh (the
//     tracker's announce interval, scaled down like the overlay's record
//     refresh) and at start, so a restarted server learns its holders back.
//
// Flat DHT design: each node is a libp2p host with a persistent identity
// (DATA/identity.key) running kad-dht in server mode, bootstrapped from the
// nodes up (the launcher's --bootstrap/--supernode lists); announce is
// Provide(cid, true); lookup is FindProvidersAsync(cid, Config.NumWant)
// read until it closes or Config.LookupWait passes; holders re-Provide every
// Config.Refresh (a reprovider with the testnet's timescale).
//
// Both designs log every announce and lookup, one JSON line each, to
// DATA/ops.jsonl ([ReadOps]): the sweep and its test count
// FindProvidersAsync calls, providers found and RPCs per lookup from it.
package baseline
