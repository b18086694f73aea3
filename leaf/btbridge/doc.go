// Package btbridge lets every BitTorrent client use the supertracker overlay
// as its tracker. A Bridge implements bttracker.Tracker on top of a leaf
// agent; the bttracker frontend in front of it speaks HTTP (BEP 3/7/23/48)
// and UDP (BEP 15) to unmodified clients.
//
// # How it works
//
// A torrent's infohash maps to a CID with bttracker.InfoHashToCID (CIDv1,
// codec torrent-info, sha1 multihash). The overlay stores ordinary provider
// records "leaf L holds CID c", which stock kad-dht clients see too. Which
// BitTorrent clients (IP, port, seeder or leecher) sit behind leaf L is
// per-torrent, short-lived state that does not fit in a provider record, so
// it stays on L, and leaves ask each other for it over a small libp2p
// protocol, protocol.BTPeersProtocol (/supertracker/bt-peers/1.0.0; messages
// in protocol/pb/bt.proto):
//
//   - Announce registers the client locally (infohash → peer ID → IP:port,
//     seeder, expiry PeerTimeout), and, when it is the leaf's first client
//     of that torrent, announces the CID through the agent, which then keeps
//     the record refreshed. Concurrently it looks the CID up in the overlay
//     and asks every holder leaf other than itself (in parallel, at most
//     MaxParallelQueries, each within QueryTimeout) for its clients. The
//     reply holds up to numwant of them and of the leaf's other local
//     clients, never the client itself, only leechers for a seeder, with
//     complete/incomplete counted over every leaf that answered.
//   - event=stopped removes the client; when the leaf has no client of that
//     torrent left, the CID is withdrawn. event=completed counts a download
//     (scrape's "downloaded"); left=0 makes the client a seeder.
//   - A client that does not re-announce within PeerTimeout (by default
//     1.5 intervals + 1 min) is dropped the same way. Failed overlay
//     announces and withdrawals are retried every SweepInterval.
//   - Scrape does the same collection with counts only, one bt-peers
//     request per holder leaf covering every scraped infohash it holds.
//
// The announce interval defaults to a third of the record TTL, clamped to
// [1 min, 30 min].
//
// # Which address other peers get
//
// A peer's address is the one its client announced from: the `ip`
// parameter when the client sends one (unless Config.Frontend.IgnoreIPParam),
// else the source address of its tracker request. That is what other
// BitTorrent clients will dial, so:
//
//   - On a single-machine testnet every client talks to its leaf from a
//     127.0.0.x address and listens on it; those loopback addresses are
//     passed on unchanged and are reachable. Give each client its own
//     127.0.0.x (aria2: --interface) so they are told apart.
//   - On a real desktop the client usually reaches its leaf from 127.0.0.1,
//     which no other machine can dial. The bridge then reports
//     Config.ExternalIP in its place when it is set; when it is not, the
//     querying leaf substitutes the IP it reached the holder leaf at (its
//     libp2p connection's remote address) — right whenever the BitTorrent
//     client and the leaf share a host and a public or LAN address. A
//     client announcing a LAN address is passed on as it is.
//
// # Wiring it up
//
//	cfg := leaf.DefaultConfig()
//	cfg.Supernodes = sn
//	agent, _ := leaf.New(h, cfg)
//	br, err := btbridge.New(agent, btbridge.Config{})
//	if err != nil { ... }
//	defer br.Close() // before agent.Close: it withdraws the torrents
//	// http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce
//	err = br.ListenAndServe(ctx, "127.0.0.1:6969")
//
// Torrent CIDs left in the agent's durable object set by an earlier run are
// withdrawn at start unless a client announces them again (Config.KeepStale
// keeps them).
package btbridge
