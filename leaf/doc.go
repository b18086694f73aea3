// Package leaf is a supertracker leaf: an Agent that attaches to a primary
// supernode and m backups (Config.Backups), announces the objects its host
// holds and looks objects up through the overlay. It runs no DHT; the
// supernodes do (package supernode).
//
// # What the agent does on its own
//
// Attaching: it measures the supernodes it knows (Config.Supernodes, and
// the ones they tell it about) and attaches to the one with the lowest RTT that has room,
// heartbeating each session; when the primary falls silent or steps down,
// a backup takes over and the announced set is re-announced through it.
// Announcing: each announcement is signed by the host's key and covers its
// CIDs by a Merkle root; the agent re-announces everything every
// RefreshFraction of the record TTL, so its records live while it runs and
// expire within the TTL once it stops. Looking up: the primary is asked first and a
// backup too when the primary is slower than it has recently been
// (hedging); every answer is verified against its holder's signature
// before it is returned. Behind a NAT it reserves relay slots on its
// supernodes (Config.Relay).
//
// # The caller's loop
//
// An Agent runs on a libp2p host the caller owns; Close detaches and stops
// everything the agent started, and leaves the host open:
//
//	cfg := leaf.DefaultConfig()                // or LocalConfig() on one machine
//	cfg.Supernodes = []peer.AddrInfo{...}      // any supernodes of the overlay
//	cfg.DataDir = dir                          // the announced set survives restarts
//	a, err := leaf.New(h, cfg)                 // attaches in the background
//	if err != nil { ... }                      // ErrInvalidConfig; nothing is left running
//	defer a.Close()                            // detaches; the host stays open
//
//	res, err := a.Announce(ctx, cids)          // ErrNoSupernode after AttachWait without a primary
//	fmt.Println(res.Replicas, "of", res.Target) // replicas counted from signed receipts
//	holders, err := a.Lookup(ctx, c, 0)        // peer.AddrInfo of each verified holder
//	_, err = a.Withdraw(ctx, cids)             // stop announcing
//
// Announced objects stay announced until Withdraw: the agent refreshes
// them, across failovers and restarts (with a DataDir), without the
// caller. WaitAttached blocks until a primary is attached, for callers
// that want to know before their first request.
package leaf
