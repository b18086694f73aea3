package supernode_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// Acceptance 1: ≥10 supernodes, ≥20 leaves; every leaf announces; every
// leaf finds every announcer of every CID.
func TestOverlayEveryLeafFindsEveryAnnouncer(t *testing.T) {
	const nSN, nLeaves, nShared = 10, 20, 5
	sns := inproc.StartSupernodes(t, nSN, inproc.SupernodeConfig())
	all := inproc.Infos(sns)
	leaves := make([]*leaf.Agent, nLeaves)
	for i := range leaves {
		// Each leaf knows three supernodes and discovers the rest.
		leaves[i] = inproc.StartLeaf(t, inproc.LeafConfig([]peer.AddrInfo{all[i%nSN], all[(i+3)%nSN], all[(i+6)%nSN]}))
	}
	want := map[cid.Cid][]peer.ID{}
	ctx := t.Context()
	for i, l := range leaves {
		shared := inproc.CID(t, fmt.Sprintf("shared-%d", i%nShared))
		own := inproc.CID(t, fmt.Sprintf("own-%d", i))
		res, err := l.Announce(ctx, []cid.Cid{shared, own})
		if err != nil {
			t.Fatalf("leaf %d announce: %v", i, err)
		}
		if res.Accepted != 2 || res.Replicas < 1 {
			t.Fatalf("leaf %d: accepted %d replicas %d", i, res.Accepted, res.Replicas)
		}
		want[shared] = append(want[shared], l.Host().ID())
		want[own] = append(want[own], l.Host().ID())
	}
	var wg sync.WaitGroup
	errs := make(chan error, nLeaves*len(want))
	for i, l := range leaves {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c, holders := range want {
				got, err := l.Lookup(ctx, c, 0)
				if err != nil {
					// A transport error (e.g. a stream open timing out on a
					// loaded machine) is retried once, as a client would;
					// a wrong answer is not.
					got, err = l.Lookup(ctx, c, 0)
				}
				if err != nil {
					errs <- fmt.Errorf("leaf %d lookup %s: %w", i, c, err)
					continue
				}
				if err := sameSet(holderSet(got), holders); err != nil {
					errs <- fmt.Errorf("leaf %d lookup %s: %w", i, c, err)
				}
				for _, h := range got {
					if len(h.Addrs) == 0 {
						errs <- fmt.Errorf("leaf %d lookup %s: holder %s without addresses", i, c, h.ID)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		n++
		t.Error(err)
	}
	total := nLeaves * len(want)
	t.Logf("%d/%d lookups found every announcer", total-n, total)
}

// Acceptance 2: killing a leaf's primary supernode: failover ≤5 s, and the
// leaf's CIDs stay findable from other leaves during and after.
func TestOverlayFailover(t *testing.T) {
	sns := inproc.StartSupernodes(t, 5, inproc.SupernodeConfig())
	all := inproc.Infos(sns)
	a := inproc.StartLeaf(t, inproc.LeafConfig(all))
	b := inproc.StartLeaf(t, inproc.LeafConfig(all))
	ctx := t.Context()
	c := inproc.CID(t, "failover-object")
	if _, err := a.Announce(ctx, []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	inproc.WaitFor(t, 10*time.Second, "two backups", func() bool { return len(a.Supernodes()) == 3 })
	primary := a.Primary()
	var victim int
	for i, sn := range sns {
		if sn.Host().ID() == primary {
			victim = i
		}
	}
	if b.Primary() == primary { // b must look up through a survivor
		t.Logf("both leaves share primary %s; b fails over too", primary)
	}

	// Look up continuously from b while the primary dies.
	stop := make(chan struct{})
	var lookups, misses int
	var lmu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			got, err := b.Lookup(lctx, c, 0)
			cancel()
			lmu.Lock()
			lookups++
			if err != nil || !holderSet(got)[a.Host().ID()] {
				misses++
			}
			lmu.Unlock()
		}
	}()

	killed := time.Now()
	sns[victim].Close()
	sns[victim].Host().Close()
	inproc.WaitFor(t, 5*time.Second, "failover to a new primary", func() bool {
		p := a.Primary()
		return p != "" && p != primary
	})
	failover := time.Since(killed)
	// After failover: still findable, from b and from a.
	inproc.WaitFor(t, 5*time.Second, "lookup after failover", func() bool {
		got, err := b.Lookup(ctx, c, 0)
		return err == nil && holderSet(got)[a.Host().ID()]
	})
	close(stop)
	<-done
	t.Logf("failover took %s; %d lookups during the kill, %d missed", failover, lookups, misses)
	if failover > 5*time.Second {
		t.Fatalf("failover took %s (> 5 s)", failover)
	}
	if misses > 0 {
		t.Fatalf("%d of %d lookups during failover did not find the leaf", misses, lookups)
	}
}

// Acceptance 3: a stock kad-dht client (ModeClient, our prefix, bootstrapped
// to one supernode) finds leaf holders with FindProvidersAsync.
func TestStockKadClientFindsLeafHolders(t *testing.T) {
	sns := inproc.StartSupernodes(t, 6, inproc.SupernodeConfig())
	l := inproc.StartLeaf(t, inproc.LeafConfig(inproc.Infos(sns)[:2]))
	ctx := t.Context()
	c := inproc.CID(t, "stock-client-object")
	if _, err := l.Announce(ctx, []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	h := inproc.NewHost(t)
	client, err := dht.New(h, dht.Mode(dht.ModeClient), dht.ProtocolPrefix(protocol.DHTPrefix),
		dht.BootstrapPeers(sns[5].AddrInfo()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := h.Connect(ctx, sns[5].AddrInfo()); err != nil {
		t.Fatal(err)
	}
	inproc.WaitFor(t, 10*time.Second, "client routing table", func() bool { return client.RoutingTable().Size() > 0 })
	qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var found *peer.AddrInfo
	for ai := range client.FindProvidersAsync(qctx, c, 0) {
		if ai.ID == l.Host().ID() {
			found = &ai
		}
	}
	if found == nil {
		t.Fatal("stock kad-dht client did not find the leaf")
	}
	if len(found.Addrs) == 0 {
		t.Fatal("leaf found without addresses")
	}
	// The returned address is dialable.
	if err := h.Connect(ctx, *found); err != nil {
		t.Fatalf("dialling the leaf at %v: %v", found.Addrs, err)
	}
}

// Acceptance 5: unrefreshed records expire after the TTL; refreshed ones do
// not.
func TestRecordsExpireUnlessRefreshed(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.RecordTTL = 3 * time.Second
	cfg.GCInterval = 500 * time.Millisecond
	sns := inproc.StartSupernodes(t, 4, cfg)
	all := inproc.Infos(sns)
	refresher := inproc.StartLeaf(t, inproc.LeafConfig(all))
	quitter := inproc.StartLeaf(t, inproc.LeafConfig(all))
	looker := inproc.StartLeaf(t, inproc.LeafConfig(all))
	ctx := t.Context()
	kept, dropped := inproc.CID(t, "kept"), inproc.CID(t, "dropped")
	if _, err := refresher.Announce(ctx, []cid.Cid{kept}); err != nil {
		t.Fatal(err)
	}
	announced := time.Now() // the leaf signs its expiry (now + TTL) during Announce
	if _, err := quitter.Announce(ctx, []cid.Cid{dropped}); err != nil {
		t.Fatal(err)
	}
	if got, _ := looker.Lookup(ctx, dropped, 0); !holderSet(got)[quitter.Host().ID()] {
		t.Fatal("record not found right after announcing")
	}
	quitter.Close() // stops refreshing
	inproc.WaitFor(t, 3*cfg.RecordTTL, "the unrefreshed record to expire", func() bool {
		got, err := looker.Lookup(ctx, dropped, 0)
		return err == nil && len(got) == 0
	})
	expiredAfter := time.Since(announced)
	if expiredAfter < cfg.RecordTTL {
		t.Fatalf("record gone after %s, before the TTL %s", expiredAfter, cfg.RecordTTL)
	}
	if expiredAfter > cfg.RecordTTL+time.Second {
		t.Fatalf("record returned until %s after announce, TTL %s", expiredAfter, cfg.RecordTTL)
	}
	// The refreshed record outlives several TTLs.
	for time.Since(announced) < 2*cfg.RecordTTL {
		got, err := looker.Lookup(ctx, kept, 0)
		if err != nil || !holderSet(got)[refresher.Host().ID()] {
			t.Fatalf("refreshed record missing at %s: %v", time.Since(announced), err)
		}
		time.Sleep(200 * time.Millisecond) // sampling interval
	}
	t.Logf("unrefreshed record expired %s after announce (TTL %s)", expiredAfter, cfg.RecordTTL)
}
