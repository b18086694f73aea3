// Package protocol holds what supertracker peers say to each other: protocol
// IDs, wire messages (protobuf, package pb, varint length-delimited as in
// libp2p), the signed announcement a leaf makes, limits on every message and
// the sentinel errors decoders return. Like go-libp2p's core, it imports
// nothing else of supertracker's.
//
// A server's loop on a stream, as the supernode runs it:
//
//	r := protocol.DefaultLimits.NewReader(s)
//	for {
//		frame, err := r.ReadFrame()          // size-limited before reading
//		if err != nil { s.Reset(); return }   // io.EOF: the peer closed
//		req, err := protocol.DefaultLimits.DecodeRequest(frame)
//		resp := handle(req, err)              // err: BAD_REQUEST, never a panic
//		protocol.WriteMsg(s, resp)
//	}
//
// A leaf signs what it announces; a supernode opens and verifies it:
//
//	env, _ := limits.SignAnnouncement(&protocol.Announcement{Peer: self, CIDs: cids,
//		Addrs: addrs, Seq: seq, Expires: now.Add(ttl)}, privKey)
//	a, err := limits.OpenAnnouncement(env, now) // ErrBadSignature, ErrSignerMismatch, ErrExpired …
//
// Regenerate pb after editing pb/supertracker.proto with `go generate ./protocol/...`
// (needs protoc and protoc-gen-go).
package protocol

//go:generate sh -c "cd pb && protoc -I. --go_out=. --go_opt=paths=source_relative supertracker.proto probe.proto bt.proto"
