package recordstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dsq "github.com/ipfs/go-datastore/query"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

var lim = protocol.DefaultLimits

type leaf struct {
	key crypto.PrivKey
	id  peer.ID
	seq uint64
}

func newLeaf(t testing.TB) *leaf {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return &leaf{key: k, id: id}
}

func mkCID(t testing.TB, s string) cid.Cid {
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// sign returns a verified announcement of cids by l, expiring at exp, and
// the store items for all of them.
func (l *leaf) sign(t testing.TB, cids []cid.Cid, exp time.Time, withdraw bool, now time.Time) (*protocol.SignedAnnouncement, []recordstore.Item) {
	t.Helper()
	l.seq++
	a := &protocol.Announcement{Peer: l.id, Seq: l.seq, Expires: exp, Withdraw: withdraw,
		Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.7/tcp/4001")}}
	env, err := lim.SignAnnouncement(a, cids, l.key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := lim.OpenBatch(env, protocol.CIDsToBytes(cids), now)
	if err != nil {
		t.Fatal(err)
	}
	items := make([]recordstore.Item, len(cids))
	for i, c := range cids {
		p, err := b.Tree.Proof(i)
		if err != nil {
			t.Fatal(err)
		}
		items[i] = recordstore.Item{CID: c, Index: i, Proof: p}
	}
	return b.SignedAnnouncement, items
}

func open(t testing.TB) (*recordstore.Store, *leveldb.Datastore) {
	t.Helper()
	d, err := leveldb.NewDatastore("", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	s, err := recordstore.Open(context.Background(), d, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return s, d
}

func holders(t testing.TB, s *recordstore.Store, c cid.Cid, now time.Time) []peer.ID {
	t.Helper()
	hs, err := s.Holders(context.Background(), c.Hash(), 50, now)
	if err != nil {
		t.Fatal(err)
	}
	var out []peer.ID
	for _, h := range hs {
		v, err := lim.OpenHolder(h, c.Hash(), now)
		if err != nil {
			t.Fatalf("the store served an answer that does not verify: %v", err)
		}
		out = append(out, v.ID)
	}
	return out
}

func TestPutServesVerifiableHoldersAndCounts(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.Now()
	a, b := newLeaf(t), newLeaf(t)
	cs := []cid.Cid{mkCID(t, "1"), mkCID(t, "2"), mkCID(t, "3")}
	ann, items := a.sign(t, cs, now.Add(time.Hour), false, now)
	stored, err := s.Put(ctx, ann, items[1:], 100) // this replica's share: CIDs 1 and 2
	if err != nil || len(stored) != 2 || stored[0] != 1 || stored[1] != 2 {
		t.Fatalf("stored %v, %v", stored, err)
	}
	annB, itemsB := b.sign(t, cs[2:], now.Add(time.Hour), false, now)
	if _, err := s.Put(ctx, annB, itemsB, 100); err != nil {
		t.Fatal(err)
	}
	if got := holders(t, s, cs[0], now); len(got) != 0 {
		t.Fatalf("CID 0 was not this replica's share but is served: %v", got)
	}
	if got := holders(t, s, cs[2], now); len(got) != 2 {
		t.Fatalf("CID 2: %d holders, want 2", len(got))
	}
	if recs, leaves := s.Counts(); recs != 3 || leaves != 2 {
		t.Fatalf("counts %d records / %d leaves, want 3 / 2", recs, leaves)
	}
	// The same announcement again (a retry, a hedged duplicate) is stored
	// once and acknowledged again.
	stored, err = s.Put(ctx, ann, items[1:], 100)
	if err != nil || len(stored) != 2 {
		t.Fatalf("retry: %v %v", stored, err)
	}
	if recs, _ := s.Counts(); recs != 3 {
		t.Fatalf("a retry changed the count to %d", recs)
	}
}

func TestExpiryHoldsAtReadTimeAndGCRemoves(t *testing.T) {
	ctx := context.Background()
	s, d := open(t)
	now := time.Now()
	l := newLeaf(t)
	c := mkCID(t, "short")
	ann, items := l.sign(t, []cid.Cid{c}, now.Add(3*time.Second), false, now)
	if _, err := s.Put(ctx, ann, items, 10); err != nil {
		t.Fatal(err)
	}
	if got := holders(t, s, c, now.Add(2999*time.Millisecond)); len(got) != 1 {
		t.Fatal("not served before its expiry")
	}
	if got, _ := s.Holders(ctx, c.Hash(), 50, now.Add(3*time.Second)); len(got) != 0 {
		t.Fatal("served at its signed expiry")
	}
	n, err := s.GC(ctx, now.Add(3*time.Second+time.Millisecond))
	if err != nil || n != 1 {
		t.Fatalf("GC removed %d, %v", n, err)
	}
	keys := 0
	res, _ := d.Query(ctx, dsqAll())
	for range res.Next() {
		keys++
	}
	if keys != 0 {
		t.Fatalf("%d keys left after GC, want 0", keys)
	}
	if recs, leaves := s.Counts(); recs != 0 || leaves != 0 {
		t.Fatalf("counts after GC: %d / %d", recs, leaves)
	}
}

func TestWithdrawalSupersedesAndBlocksReplay(t *testing.T) {
	ctx := context.Background()
	s, d := open(t)
	now := time.Now()
	l := newLeaf(t)
	c := mkCID(t, "w")
	ann, items := l.sign(t, []cid.Cid{c}, now.Add(time.Hour), false, now)
	if _, err := s.Put(ctx, ann, items, 10); err != nil {
		t.Fatal(err)
	}
	wd, witems := l.sign(t, []cid.Cid{c}, now.Add(time.Minute), true, now) // shorter than the announcement
	if _, err := s.Put(ctx, wd, witems, 10); err != nil {
		t.Fatal(err)
	}
	if got := holders(t, s, c, now); len(got) != 0 {
		t.Fatal("withdrawn holder still served")
	}
	// Replaying the older announcement changes nothing.
	if stored, err := s.Put(ctx, ann, items, 10); err != nil || len(stored) != 0 {
		t.Fatalf("replay stored %v, %v", stored, err)
	}
	// After the withdrawal's own expiry the tombstone still stands (it
	// outlives the announcement it superseded).
	if _, err := s.GC(ctx, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	r, err := s.Get(ctx, c.Hash(), l.id)
	if err != nil || !r.Withdrawn {
		t.Fatalf("tombstone gone early: %+v %v", r, err)
	}
	if recs, _ := s.Counts(); recs != 0 {
		t.Fatalf("records %d, want 0", recs)
	}
	// Once the superseded announcement expired too, GC takes the
	// tombstone (through that announcement's index entry) and both
	// announcements: nothing is left behind.
	if _, err := s.GC(ctx, now.Add(time.Hour+time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, c.Hash(), l.id); err == nil {
		t.Fatalf("tombstone outlived what it superseded: %+v", r)
	}
	if n := keysIn(t, d); n != 0 {
		t.Fatalf("%d keys left after the tombstone's expiry, want 0", n)
	}
	// A withdrawal of a CID never seen here leaves a tombstone too, so the
	// announcement it follows cannot be stored afterwards.
	c2 := mkCID(t, "unseen")
	old, oldItems := l.sign(t, []cid.Cid{c2}, now.Add(time.Hour), false, now)
	wd2, wd2items := l.sign(t, []cid.Cid{c2}, now.Add(time.Hour), true, now)
	if _, err := s.Put(ctx, wd2, wd2items, 10); err != nil {
		t.Fatal(err)
	}
	if stored, _ := s.Put(ctx, old, oldItems, 10); len(stored) != 0 {
		t.Fatal("an announcement older than a stored withdrawal was taken")
	}
}

func TestLeafCapRefusesWholeBatch(t *testing.T) {
	ctx := context.Background()
	s, _ := open(t)
	now := time.Now()
	l := newLeaf(t)
	var cs []cid.Cid
	for i := range 5 {
		cs = append(cs, mkCID(t, fmt.Sprint(i)))
	}
	ann, items := l.sign(t, cs[:3], now.Add(time.Hour), false, now)
	if _, err := s.Put(ctx, ann, items, 4); err != nil {
		t.Fatal(err)
	}
	ann2, items2 := l.sign(t, cs[2:], now.Add(time.Hour), false, now) // 2 new, 1 refresh: 5 > 4
	if _, err := s.Put(ctx, ann2, items2, 4); !errors.Is(err, recordstore.ErrLeafCap) {
		t.Fatalf("over the cap: %v", err)
	}
	if n := s.LeafRecords(l.id); n != 3 {
		t.Fatalf("a refused batch changed the leaf's records to %d", n)
	}
}

func TestReopenRestoresCounts(t *testing.T) {
	ctx := context.Background()
	s, d := open(t)
	now := time.Now()
	l := newLeaf(t)
	ann, items := l.sign(t, []cid.Cid{mkCID(t, "a"), mkCID(t, "b")}, now.Add(time.Hour), false, now)
	if _, err := s.Put(ctx, ann, items, 10); err != nil {
		t.Fatal(err)
	}
	s2, err := recordstore.Open(ctx, d, now)
	if err != nil {
		t.Fatal(err)
	}
	if recs, leaves := s2.Counts(); recs != 2 || leaves != 1 {
		t.Fatalf("reopened counts %d / %d", recs, leaves)
	}
}

func dsqAll() dsq.Query { return dsq.Query{} }

func keysIn(t *testing.T, d *leveldb.Datastore) int {
	t.Helper()
	res, err := d.Query(context.Background(), dsqAll())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	n := 0
	for range res.Next() {
		n++
	}
	return n
}

// A record handed off (Delete) and handed back (Put of the same
// announcement, as repair does when the supernode set changes back) is
// counted once and collected once: the counts end at 0, not below.
func TestStoredAgainAfterDeleteCountsOnce(t *testing.T) {
	ctx := context.Background()
	s, d := open(t)
	now := time.Now()
	l := newLeaf(t)
	cs := []cid.Cid{mkCID(t, "x"), mkCID(t, "y")}
	ann, items := l.sign(t, cs, now.Add(time.Minute), false, now)
	if _, err := s.Put(ctx, ann, items, 10); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Delete(ctx, cs[0].Hash(), l.id, ann.Hash); err != nil {
			t.Fatal(err)
		}
		if recs, _ := s.Counts(); recs != 1 {
			t.Fatalf("after the hand-off: %d records, want 1", recs)
		}
		if stored, err := s.Put(ctx, ann, items[:1], 10); err != nil || len(stored) != 1 {
			t.Fatalf("handed back: stored %v, %v", stored, err)
		}
		if recs, _ := s.Counts(); recs != 2 {
			t.Fatalf("after the hand-back: %d records, want 2", recs)
		}
	}
	n, err := s.GC(ctx, now.Add(time.Minute+time.Millisecond))
	if err != nil || n != 2 {
		t.Fatalf("GC removed %d, %v; want 2", n, err)
	}
	if recs, leaves := s.Counts(); recs != 0 || leaves != 0 {
		t.Fatalf("counts after GC: %d records, %d leaves; want 0, 0", recs, leaves)
	}
	if k := keysIn(t, d); k != 0 {
		t.Fatalf("%d keys left after GC", k)
	}
}
