// Package node runs a supertracker node in a process, in any role: a leaf
// (leaf.Agent), a supernode (supernode.Node) or a node that elects its own
// role (election/runner). It is what `supertracker leaf|supernode|node`
// run, and what a Go program embeds to get the same process around the
// libraries:
//
//   - the libp2p host on the data dir's identity (protocol/identity), with
//     every transport, resource limits sized for a supernode, hole
//     punching, and a --listen address in use refused up front (ErrInUse);
//   - one process per data dir (an flock on DATA/lock, ErrInUse);
//   - for a role that can serve, the durable datastore and peerstore
//     (supernode/persist), opened once and handed to every supernode
//     service a promotion starts, and the supernodes it knew remembered;
//   - the HTTP API (protocol/httpapi) behind its guard, with the status
//     page at /, Prometheus /metrics (supertracker_info carries Version)
//     and /healthz; the BitTorrent bridge (leaf/btbridge);
//   - a graceful Close: /healthz turns 503, a supernode hands its leaves
//     over (supernode.Node.Drain, the same hand-over the election's
//     demotion runs), then everything stops in order.
//
// The roles that can serve live in serving.go. The leaf-only build (go
// build -tags leafonly: make build's bin/supertracker-leaf, the desktop
// agent) leaves them out, and with them the DHT, the datastore and the
// supernode code; Start then refuses RoleSupernode and RoleElected
// (ErrLeafOnly).
//
// The caller's loop:
//
//	n, err := node.Start(ctx, node.Config{Role: node.RoleSupernode, DataDir: dir,
//		Listen: addrs, API: "127.0.0.1:5001", Supernode: supernode.DefaultConfig()})
//	if err != nil { … }
//	<-ctx.Done() // SIGTERM
//	n.Close()
package node
