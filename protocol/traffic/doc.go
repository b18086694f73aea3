// Package traffic counts and shapes what a node sends and receives on the
// supertracker protocols: a Meter of messages and bytes by key (protocol ID
// or protocol/message kind), its merge with libp2p's per-protocol byte
// counts into the HTTP API's traffic map, and a ThrottledWriter that holds
// --bandwidth-limit for what the node writes.
//
// It is kept out of package protocol, which, like go-libp2p's core, holds
// only what peers say to each other (IDs, wire types, codec, limits, signed
// announcements, sentinel errors).
package traffic
