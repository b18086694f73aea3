package persist

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// The datastore keeps what was written, in Puts, batches and deletes,
// across a close and reopen; a second open of a data dir in use fails.
func TestNodeStoreReopens(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := OpenStore(dir); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Fatalf("opening the datastore in use: %v", err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put(ctx, ds.NewKey("/a/1"), []byte("one")))
	must(s.Put(ctx, ds.NewKey("/a/2"), []byte("two")))
	b, err := s.Batch(ctx)
	must(err)
	must(b.Put(ctx, ds.NewKey("/a/3"), []byte("three")))
	must(b.Delete(ctx, ds.NewKey("/a/1")))
	must(b.Commit(ctx))
	must(s.Delete(ctx, ds.NewKey("/a/2")))
	must(s.Close())

	s, err = OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Query(ctx, dsq.Query{Prefix: "/a"})
	must(err)
	all, err := res.Rest()
	must(err)
	if len(all) != 1 || all[0].Key != "/a/3" || string(all[0].Value) != "three" {
		t.Fatalf("after reopening: %+v", all)
	}
}

// A node's supernode service is started on every promotion and closed on
// every demotion with the same datastore: closing the supernode must leave
// the datastore open, and the next one must find the records (and index)
// the previous one wrote.
func TestSupernodeCloseLeavesDatastoreOpen(t *testing.T) {
	dir := t.TempDir()
	store, err := OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/" + opsIP(81) + "/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	cfg := supernode.LocalConfig()
	cfg.Datastore, cfg.Logger, cfg.DisableDHTAutoRefresh = store, quietLogger(), true
	obj, _ := cid.Decode(opsCID("promote", 1))

	// A leaf's signed announcement, stored by the first "promotion".
	leafHost, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/" + opsIP(82) + "/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	defer leafHost.Close()
	env, err := protocol.DefaultLimits.SignAnnouncement(&protocol.Announcement{
		Peer: leafHost.ID(), Addrs: leafHost.Addrs(), Seq: 1, Expires: time.Now().Add(time.Hour)},
		[]cid.Cid{obj}, leafHost.Peerstore().PrivKey(leafHost.ID()))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := supernode.New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sn.Announce(t.Context(), leafHost.ID(), env, [][]byte{obj.Bytes()}); err != nil {
		t.Fatal(err)
	}
	if err := sn.Close(); err != nil { // demotion
		t.Fatal(err)
	}
	if err := store.Put(t.Context(), ds.NewKey("/still/open"), []byte("yes")); err != nil {
		t.Fatalf("the datastore was closed with the supernode: %v", err)
	}

	sn2, err := supernode.New(h, cfg) // promotion again
	if err != nil {
		t.Fatal(err)
	}
	defer sn2.Close()
	if st := sn2.Stats(); st.Records != 1 {
		t.Fatalf("records after re-promotion: %d, want 1", st.Records)
	}
	got, err := sn2.Lookup(t.Context(), obj, 0)
	if err != nil || len(got) != 1 || got[0].ID != leafHost.ID() {
		t.Fatalf("lookup after re-promotion: %v %v", got, err)
	}
}

// Test peers listen on 127.0.61.x.
func opsIP(i int) string { return fmt.Sprintf("127.0.61.%d", i) }

// opsCID is the i-th test object of a test.
func opsCID(prefix string, i int) string {
	h, _ := mh.Sum([]byte(fmt.Sprintf("supertracker-ops-%s-%d", prefix, i)), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h).String()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// A supernode that stops while the others stop too has marked them all
// down by then (none is usable for placement); Remember still writes them
// down for the next run, so a whole overlay restarted at once finds itself
// again (TestRestartKeepsRecords: one supernode restarted knowing nobody,
// and the others had dialled it before it listened).
func TestRememberKeepsSupernodesMarkedDown(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	sns := inproc.StartSupernodes(t, 3, cfg)
	self := sns[0]
	for _, sn := range sns[1:] {
		if err := sn.Close(); err != nil {
			t.Fatal(err)
		}
		if err := sn.Host().Close(); err != nil {
			t.Fatal(err)
		}
	}
	inproc.WaitFor(t, 30*time.Second, "the stopped supernodes marked down", func() bool {
		return self.MemberCount() == 1
	})
	Remember(self.Host(), self)
	known := KnownSupernodes(self.Host().Peerstore(), self.Host().ID())
	got := map[string]bool{}
	for _, ai := range known {
		got[ai.ID.String()] = len(ai.Addrs) > 0
	}
	for _, sn := range sns[1:] {
		if !got[sn.Host().ID().String()] {
			t.Fatalf("remembered %v: %s (marked down) missing or without addresses", known, sn.Host().ID())
		}
	}
	if len(known) != 2 {
		t.Fatalf("remembered %d supernodes, want 2", len(known))
	}
}
