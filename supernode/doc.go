// Package supernode is a supertracker supernode: it serves attached leaves
// (the leaf protocol), stores its share of the overlay's object→peer
// records, and talks with the other supernodes (the peer protocol). A
// go-libp2p-kad-dht server with prefix /supertracker runs beside it for
// stock kad-dht clients.
//
// # The record path
//
// A leaf's signed announcement covers a batch of CIDs by their RFC 6962
// Merkle root. The leaf's primary supernode verifies it once, places each
// CID on its r closest supernodes of the membership view (package
// membership: every supernode, XOR distance, one per network prefix), and
// sends each replica only its CIDs with inclusion proofs, on one pipelined
// session per pair. Replicas verify everything, store their share (package
// recordstore) and sign a receipt; the leaf counts replicas from receipts.
// Lookups ask the CID's replicas in one hop; answers carry each holder's
// signed announcement and proof for the asking leaf to check. Repair moves
// records when the membership changes.
//
// # Using it
//
// A Node runs on a libp2p host the caller owns; Close stops everything it
// started and leaves the host open:
//
//	cfg := supernode.DefaultConfig()          // or LocalConfig() on one machine
//	cfg.Datastore = leveldbDatastore          // records survive restarts
//	cfg.BootstrapPeers = []peer.AddrInfo{...} // any supernode of the overlay
//	sn, err := supernode.New(h, cfg)
//	if err != nil { ... }                     // nothing is left running
//	defer sn.Close()
//	...
//	sn.StepDown()                             // leaves move elsewhere; peers stop placing here
//	st := sn.Stats()                          // leaves, records, members, ρ
//
// Lookup and Announce serve callers in the same process (the HTTP API, a
// promoted node's own leaf agent).
package supernode
