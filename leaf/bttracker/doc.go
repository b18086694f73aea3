// Package bttracker is the BitTorrent tracker frontend of the supertracker
// leaf agent: it lets unmodified BitTorrent clients on the desktop use the
// supertracker overlay as their tracker.
//
// Following chihaya's split, the frontends only parse requests and write
// responses; all tracker logic sits behind one interface, Tracker, which the
// leaf agent implements on top of the overlay (announce = publish the
// infohash's CID and look up its holders; scrape = count them).
//
// Supported protocols:
//
//   - HTTP announce, GET /announce (BEP 3), with compact peers (BEP 23,
//     6 bytes per IPv4 peer, the default unless compact=0), "peers6" (BEP 7,
//     18 bytes per IPv6 peer, in compact mode), non-compact dictionary lists,
//     numwant, no_peer_id, ip, and "interval"/"min interval";
//   - HTTP scrape, GET /scrape?info_hash=…&info_hash=… (BEP 48);
//   - UDP tracker protocol (BEP 15): connect, announce (IPv4 or, for clients
//     talking over IPv6, IPv6 peer format), scrape, and error replies.
//
// Malformed HTTP requests are answered with status 200 and a bencoded
// "failure reason", as trackers do; malformed UDP requests with an error
// packet (action 3). Neither frontend panics on any input, and both bound
// what they accept (query length, parameter and infohash counts, packet
// sizes). UDP connection IDs are HMACs of the client IP and a time window
// under a per-process secret, so no per-client state is kept.
//
// Infohashes map to CIDs with InfoHashToCID and back with CIDToInfoHash:
// CIDv1, multicodec torrent-info (0x7b), sha1 multihash of the 20 bytes.
//
// # Wiring it up
//
//	type overlayTracker struct{ /* the leaf's overlay client */ }
//
//	func (t *overlayTracker) Announce(ctx context.Context, req bttracker.AnnounceRequest) (bttracker.AnnounceResponse, error) {
//		c := bttracker.InfoHashToCID(req.InfoHash)
//		// publish (or, on EventStopped, withdraw) c for this leaf; look up
//		// up to req.NumWant holders of c; map them to IP:port peers.
//		return bttracker.AnnounceResponse{Complete: seeders, Incomplete: leechers, Peers: peers}, nil
//	}
//
//	func (t *overlayTracker) Scrape(ctx context.Context, hs []bttracker.InfoHash) ([]bttracker.ScrapeStats, error) {
//		// one ScrapeStats per infohash, same order
//	}
//
//	fe, err := bttracker.New(&overlayTracker{}, bttracker.Config{})
//	if err != nil { ... }
//	// Serves http://127.0.0.1:6969/announce and udp://127.0.0.1:6969/announce
//	// until ctx is cancelled.
//	err = fe.ListenAndServe(ctx, "127.0.0.1:6969")
//
// To learn the port when binding port 0, or to mount the HTTP side in an
// existing server, use the pieces: Frontend is an http.Handler;
// Frontend.Listen returns a Listener (Addr, Serve, Close); and
// Frontend.NewUDPServer serves BEP 15 on any net.PacketConn.
//
// A Tracker returns ClientError values (such as ErrUnknownInfoHash or
// ErrUnavailable) for refusals the client should see; any other error is
// logged and reported as "internal tracker error".
//
// Package bencode, beside this one, holds the strict bencoding this package
// writes with.
package bttracker
