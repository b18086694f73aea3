// Package runner drives the pure election machine (package election) on a
// live process: it feeds it measurements (uptime history persisted in the
// data dir, upload bandwidth by a real transfer, reachability by a
// dial-back, CPU and memory headroom, supernodes' load reports), and carries
// out its proposals by changing the process's role live, with no restart:
//
//   - leaf → supernode: start a kad-dht server and the supernode protocols
//     on the same libp2p host, join the DHT through the supernodes the leaf
//     knew, then route the node's own announcements and lookups through the
//     local supernode (leaf.Agent.SetLocal), which re-announces them at once;
//   - supernode → leaf: answer attached leaves with STEPPING_DOWN so they
//     move to their backups, attach the node's own agent to other
//     supernodes (which re-announces its records through them), wait for
//     the leaves to leave, then stop serving.
//
// Records stay findable throughout: they live on r supernodes, and every
// role change re-announces the node's own set through the new route.
//
// Cold start (discovery.go): a node that knows no supernode asks the peers
// it met (configured addresses, peers seen, every connected peer) for
// their load, the supernodes they know and the pending promotions they
// know of, and feeds those candidacies to the election, so an empty
// overlay promotes one node; a supernode whose DHT routing table is empty
// keeps asking and joins the supernodes it finds, so supernodes that
// promoted apart merge. Sleep (suspend.go): two ticks too far apart on
// the monotonic clock, or a wall clock that ran ahead of it, are a
// suspension; the election is told, and a supernode steps down at once,
// without waiting for a hand-over.
//
// The caller's loop is the runner's own; a caller only builds it and reads
// its state:
//
//	r, err := runner.New(h, cfg)   // starts as a leaf (or cfg.ForceRole)
//	defer r.Close()
//	http.Handle("/", httpapi.NewHandler(r.API()))
package runner
