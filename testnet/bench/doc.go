// Package bench puts the supertracker overlay side by side with its two
// baselines, a flat stock go-libp2p-kad-dht and the opentracker server
// (Debian package opentracker), on the same workload in one run on one
// machine, and writes the comparison: bench-out/bench.json, bench.md (the
// table), bench.png (the ratios) and, for a full run, docs/performance.md.
// `make bench` runs it (QUICK=1 for the short version).
//
// Every measurement is taken in R ≥ 3 interleaved rounds (ours, then the
// baseline, then ours again …): each round gives one value for each side
// and their ratio ours/baseline; a row reports the median of each over the
// rounds and the ratio's min–max. Networks are built once per size (N or
// S), used for every round, and torn down before the next size, so the
// file-descriptor budget (two per in-process TCP connection) holds.
//
// Rows:
//
//   - P1: lookup latency p50/p99 through a leaf's HTTP API with the API's
//     default limit (no limit parameter), at N = 50 and 100 (S = N/5
//     supernodes, the rest leaves), against a flat kad-dht of N servers
//     (FindProvidersAsync(c, 1), time to the first provider) and against
//     opentracker (an HTTP announce with numwant=50); the in-process Go path
//     (leaf.Agent.Lookup) and the API with limit=1 as rows of their own.
//   - P2: time from an announce returning on leaf A until leaf B (attached
//     to another supernode) finds the CID, against kad-dht Provide, then
//     FindProvidersAsync from another node; and the announce call itself.
//   - P3: records registered per second by one supernode (signed,
//     replicated r times, r = supernode.DefaultConfig().ReplicationFactor)
//     for 1-CID announces and 64-CID batches from W closed-loop workers,
//     against opentracker HTTP announces per second from W workers.
//   - P4: idle CPU (ms per s, /proc/PID/stat utime+stime, and at ns
//     resolution from /proc/PID/task/*/schedstat) and RSS
//     (/proc/PID/status VmRSS) of a leaf process (bin/supertracker-leaf
//     leaf, the leaf-only build) against one flat kad-dht server process,
//     same N.
//   - P5: bytes per stored record on one supernode: Go heap (after GC) and
//     on disk (its leveldb datastore, compacted), at 10k, 100k and 1M
//     records, against stock kad-dht's provider store on the same
//     datastore kind and opentracker's RSS per torrent-peer.
//   - growth: lookup p50 and registrations per second at S = 5, 20, 50,
//     against opentracker (S-independent, so the ratios show the growth).
//
// Everything specific to the overlay (its configuration, how its nodes
// start, announce and look up, how a record is stored) is in overlay.go;
// the registration load generator is in loadgen.go behind RecordLoad.
package bench
