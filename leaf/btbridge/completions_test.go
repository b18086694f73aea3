package btbridge

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// The per-leaf completion counts: a leaf's own count is never taken from
// others, others' merge by maximum (so a count that travels twice is
// counted once), and what a leaf answers with is bounded.
func TestCompletions(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ih := bttracker.InfoHash{7}
	c := newCompletions("me", 2)
	c.addOwn(ih, now)
	c.addOwn(ih, now)
	c.merge(ih, "me", 50, now) // someone claiming our count: ignored
	c.merge(ih, "b", 3, now)
	c.merge(ih, "b", 2, now) // an older count of b: ignored
	c.merge(ih, "c", 1, now)
	c.merge(ih, "c", 1, now) // the same count again: once
	if got := c.total(ih); got != 2+3+1 {
		t.Fatalf("total %d, want 6", got)
	}
	e := c.entries(ih, 2)
	if len(e) != 2 || peer.ID(e[0].Leaf) != "me" || e[0].Count != 2 || peer.ID(e[1].Leaf) != "b" {
		t.Fatalf("entries %v: want ours first, then the largest", e)
	}
	// The torrent table is bounded: the least recently touched goes.
	c.addOwn(bttracker.InfoHash{8}, now.Add(time.Second))
	c.addOwn(bttracker.InfoHash{9}, now.Add(2*time.Second))
	if c.total(ih) != 0 || c.total(bttracker.InfoHash{9}) != 1 {
		t.Fatal("eviction kept the oldest torrent")
	}
	// Per torrent, the smallest counts give way when full.
	for i := range maxCompletionLeaves + 5 {
		c.merge(ih, peer.ID(rune('A'+i)), uint32(i+1), now)
	}
	if n := len(c.m[ih].by); n > maxCompletionLeaves {
		t.Fatalf("%d leaves kept for one torrent, max %d", n, maxCompletionLeaves)
	}
}

// A bt-peers request carries the asker's own count; the answering leaf
// keeps it under the asker's peer ID and answers with every count it
// knows, its own first, within the protocol's bounds.
func TestServeRequestCompletions(t *testing.T) {
	b, big, small := testBridge(t)
	resp := b.serveRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{small[:], big[:]}, Completed: []uint32{4, 0}}, "asker")
	if err := protocol.DefaultLimits.ValidateBTPeersResponse(resp); err != nil {
		t.Fatal(err)
	}
	s := resp.Swarms[0]
	if s.Downloaded != 3+4 || len(s.Completions) != 2 || peer.ID(s.Completions[0].Leaf) != "self-leaf" ||
		s.Completions[0].Count != 3 || peer.ID(s.Completions[1].Leaf) != "asker" || s.Completions[1].Count != 4 {
		t.Fatalf("small swarm: downloaded %d, completions %v", s.Downloaded, s.Completions)
	}
	// A torrent with no client left but completions known is still
	// answered, so the count outlives the swarm on this leaf.
	gone := bttracker.InfoHash{3}
	b.done.addOwn(gone, time.Now())
	resp = b.serveRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{gone[:]}, Limit: 10}, "asker")
	if len(resp.Swarms) != 1 || resp.Swarms[0].Downloaded != 1 || len(resp.Swarms[0].Peers) != 0 {
		t.Fatalf("completions of a torrent without clients: %v", resp)
	}
	// A request with a completion list of the wrong length is refused.
	if err := protocol.ValidateBTPeersRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{gone[:]}, Completed: []uint32{1, 2}}); err == nil {
		t.Fatal("mismatched completion counts accepted")
	}
}
