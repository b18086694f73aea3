package recordstore_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

func origin(t testing.TB, addr string) []byte {
	t.Helper()
	o := protocol.OriginOf(ma.StringCast(addr), 24, 48)
	if o == nil {
		t.Fatalf("no origin for %s", addr)
	}
	return o
}

// leafSortingBefore grinds a leaf whose records a store lists before id's
// (records are keyed by base64url leaf ID), as the stuffing attacker does.
func leafSortingBefore(t testing.TB, id peer.ID) *leaf {
	t.Helper()
	b := base64.RawURLEncoding.EncodeToString([]byte(id))
	for range 1 << 16 {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := peer.IDFromPrivateKey(k)
		if base64.RawURLEncoding.EncodeToString([]byte(p)) < b {
			return &leaf{key: k, id: p}
		}
	}
	t.Fatal("no key sorts before the honest leaf")
	return nil
}

// put stores l's announcement of c as coming from o.
func put(t testing.TB, s *recordstore.Store, l *leaf, c cid.Cid, o recordstore.Origin, now time.Time) {
	t.Helper()
	a, items := l.sign(t, []cid.Cid{c}, now.Add(time.Hour), false, now)
	for i := range items {
		items[i].Origin = o
	}
	if _, err := s.Put(context.Background(), a, items, 100); err != nil {
		t.Fatal(err)
	}
}

// Answer stuffing, counted: 60 leaves from one /24 whose IDs sort before
// the one honest holder's (another /24) announce its CID; every answer with
// room for both prefixes (2 to 50 holders) holds the honest holder.
func TestHoldersSpreadOverLeafPrefixes(t *testing.T) {
	s, _ := open(t)
	now := time.Now()
	c := mkCID(t, "stuffed")
	honest := newLeaf(t)
	put(t, s, honest, c, recordstore.Origin{Leaf: origin(t, "/ip4/198.51.100.7/tcp/1")}, now)
	junk := origin(t, "/ip4/203.0.113.9/tcp/1")
	for range 60 {
		put(t, s, leafSortingBefore(t, honest.id), c, recordstore.Origin{Leaf: junk}, now)
	}
	for _, limit := range []int{2, 3, 10, 25, 49, 50} {
		hs, err := s.Holders(context.Background(), c.Hash(), limit, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != limit {
			t.Fatalf("limit %d: %d holders", limit, len(hs))
		}
		found := 0
		for _, h := range hs {
			v, err := lim.OpenHolder(h, c.Hash(), now)
			if err != nil {
				t.Fatal(err)
			}
			if v.ID == honest.id {
				found++
			}
		}
		if found != 1 {
			t.Fatalf("limit %d: the honest holder is in the answer %d times, want 1", limit, found)
		}
	}
}

// A lying primary can tag its Sybils with made-up leaf prefixes, but it is
// one sender: 60 Sybils via one supernode, each with a prefix of its own,
// and one honest leaf via another → the honest leaf is in the answer.
func TestHoldersSpreadOverSendersFirst(t *testing.T) {
	s, _ := open(t)
	now := time.Now()
	c := mkCID(t, "stuffed-by-a-liar")
	honest := newLeaf(t)
	put(t, s, honest, c, recordstore.Origin{Via: origin(t, "/ip4/192.0.2.1/tcp/1"), Leaf: origin(t, "/ip4/198.51.100.7/tcp/1")}, now)
	liar := origin(t, "/ip4/203.0.113.1/tcp/1")
	for i := range 60 {
		made := origin(t, fmt.Sprintf("/ip4/10.%d.0.1/tcp/1", i))
		put(t, s, leafSortingBefore(t, honest.id), c, recordstore.Origin{Via: liar, Leaf: made}, now)
	}
	hs, err := s.Holders(context.Background(), c.Hash(), 50, now)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range hs {
		if v, err := lim.OpenHolder(h, c.Hash(), now); err == nil && v.ID == honest.id {
			found = true
		}
	}
	if len(hs) != 50 || !found {
		t.Fatalf("%d holders, honest found: %v", len(hs), found)
	}
}

// SpreadByOrigin's shares: 3 prefixes with 40, 5 and 1 items and 12 slots
// → 1 of the single one, 5 of the five (all of them), 6 of the forty; with
// nothing to spread the order is kept.
func TestSpreadByOriginShares(t *testing.T) {
	type item struct {
		o recordstore.Origin
		i int
	}
	a, b, c := []byte{24, 1, 0, 0, 0}, []byte{24, 2, 0, 0, 0}, []byte{24, 3, 0, 0, 0}
	var items []item
	for i := range 40 {
		items = append(items, item{recordstore.Origin{Leaf: a}, i})
	}
	for i := range 5 {
		items = append(items, item{recordstore.Origin{Leaf: b}, 100 + i})
	}
	items = append(items, item{recordstore.Origin{Leaf: c}, 200})
	got := recordstore.SpreadByOrigin(items, func(it item) recordstore.Origin { return it.o }, 12)
	count := map[int]int{}
	for _, it := range got {
		count[it.i/100]++
	}
	if len(got) != 12 || count[0] != 6 || count[1] != 5 || count[2] != 1 {
		t.Fatalf("shares %v of %d, want 6 / 5 / 1 of 12", count, len(got))
	}
	plain := recordstore.SpreadByOrigin(items[:40], func(it item) recordstore.Origin { return it.o }, 50)
	for i, it := range plain {
		if it.i != i {
			t.Fatalf("one origin: order changed at %d (%d)", i, it.i)
		}
	}
}

func TestOriginsSurviveTheStore(t *testing.T) {
	s, _ := open(t)
	now := time.Now()
	c := mkCID(t, "kept")
	l := newLeaf(t)
	o := recordstore.Origin{Via: origin(t, "/ip6/2001:db8:1:2::1/tcp/1"), Leaf: origin(t, "/ip4/198.51.100.7/tcp/1")}
	put(t, s, l, c, o, now)
	r, err := s.Get(context.Background(), c.Hash(), l.id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := protocol.OriginString(r.Origin.Via), "2001:db8:1::/48"; got != want {
		t.Fatalf("via %q, want %q", got, want)
	}
	if got, want := protocol.OriginString(r.Origin.Leaf), "198.51.100.0/24"; got != want {
		t.Fatalf("leaf origin %q, want %q", got, want)
	}
}
