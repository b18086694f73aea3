package supernode

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func testPeer(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func testCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// A restarted supernode's index (from the datastore) keeps live records,
// tombstones and sequence numbers, and drops what expired meanwhile.
func TestRecordIndexSurvivesRestart(t *testing.T) {
	store := dssync.MutexWrap(ds.NewMapDatastore())
	now := time.Now()
	a, b := testPeer(t), testPeer(t)
	c1, c2, c3 := testCID(t, "1"), testCID(t, "2"), testCID(t, "3")

	x := newRecordIndex()
	x.db = store
	if _, ok := x.admit(a, []cid.Cid{c1, c2}, 5, now.Add(time.Hour), false, 10, now); !ok {
		t.Fatal("admit refused")
	}
	if _, ok := x.admit(a, []cid.Cid{c2}, 6, now.Add(time.Hour), true, 10, now); !ok { // withdraw c2
		t.Fatal("withdraw refused")
	}
	if _, ok := x.admit(b, []cid.Cid{c3}, 1, now.Add(time.Minute), false, 10, now); !ok {
		t.Fatal("admit refused")
	}

	// Restart after b's record expired.
	later := now.Add(2 * time.Minute)
	y := newRecordIndex()
	y.db = store
	n, err := y.load(context.Background(), later)
	if err != nil || n != 2 {
		t.Fatalf("load: %d entries, %v; want 2", n, err)
	}
	if recs, leaves := y.count(); recs != 1 || leaves != 1 {
		t.Fatalf("after restart: %d records of %d leaves, want 1 of 1", recs, leaves)
	}
	if !y.withdrawn(a, c2, later) {
		t.Fatal("the tombstone was lost")
	}
	// An older announcement replayed after the restart does not undo the
	// withdrawal.
	if out, _ := y.admit(a, []cid.Cid{c2}, 5, later.Add(time.Hour), false, 10, later); len(out) != 0 {
		t.Fatal("a replayed older announcement was applied")
	}
	// The expired entry is gone from the datastore too.
	if has, _ := store.Has(context.Background(), indexKey(b, c3)); has {
		t.Fatal("expired entry left in the datastore")
	}
	// GC deletes from the datastore.
	y.gc(now.Add(2 * time.Hour))
	z := newRecordIndex()
	z.db = store
	if n, err := z.load(context.Background(), now); err != nil || n != 0 {
		t.Fatalf("after gc: %d entries, %v", n, err)
	}
}
