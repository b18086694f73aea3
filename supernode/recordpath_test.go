package supernode_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// copies counts, over sns, the supernodes that store holder's record of c.
func copies(t *testing.T, sns []*supernode.Node, c cid.Cid, holder peer.ID) int {
	t.Helper()
	n := 0
	for _, sn := range sns {
		ids, err := sn.Stored(t.Context(), c)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id == holder {
				n++
			}
		}
	}
	return n
}

func objects(t *testing.T, prefix string, k int) []cid.Cid {
	out := make([]cid.Cid, k)
	for i := range out {
		out[i] = inproc.CID(t, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

// A batch is stored on each CID's own r replicas, not on the union of
// their sets: 6 supernodes, r = 2, one 40-CID announce → exactly 80 records,
// every CID on exactly 2 supernodes, the leaf's replica count honest per
// CID, and every CID found from every leaf.
func TestBatchIsStoredExactlyRTimes(t *testing.T) {
	sns, all, announcer := startWithLeaf(t, 6, 2)
	var lookers []*leaf.Agent
	for i := range 3 {
		lookers = append(lookers, inproc.StartLeaf(t, inproc.LeafConfig(all[i+2:i+3])))
	}
	cs := objects(t, "batch", 40)
	res, err := announcer.Announce(t.Context(), cs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 40 || res.Replicas != 2 || res.Target != 2 || res.UnderReplicated != 0 {
		t.Fatalf("announce result %+v, want 40 accepted, 2 replicas each", res)
	}
	total := 0
	for _, sn := range sns {
		total += sn.Stats().Records
	}
	if total != 80 {
		t.Fatalf("%d records stored over 6 supernodes, want exactly 80 (40 CIDs × r=2)", total)
	}
	for _, c := range cs {
		if n := copies(t, sns, c, announcer.Host().ID()); n != 2 {
			t.Fatalf("CID %s on %d supernodes, want 2", c, n)
		}
		for i, l := range lookers {
			got, err := l.Lookup(t.Context(), c, 0)
			if err != nil || len(got) != 1 || got[0].ID != announcer.Host().ID() {
				t.Fatalf("leaf %d lookup %s: %v %v", i, c, got, err)
			}
		}
	}
}

// Withdrawal holds everywhere at once: after withdraw returns, no lookup
// through any supernode returns the holder.
func TestWithdrawalHoldsThroughEverySupernode(t *testing.T) {
	sns := inproc.StartSupernodes(t, 6, inproc.SupernodeConfig())
	all := inproc.Infos(sns)
	holder := inproc.StartLeaf(t, inproc.LeafConfig(all[:1]))
	cs := objects(t, "withdrawn", 5)
	if _, err := holder.Announce(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Withdraw(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	for _, sn := range sns {
		for _, c := range cs {
			got, err := sn.Lookup(t.Context(), c, 0)
			if err != nil || len(got) != 0 {
				t.Fatalf("supernode %s still returns %v for withdrawn %s (%v)", sn.Host().ID(), got, c, err)
			}
		}
	}
}

// A dead leaf's records stop being returned at their signed expiry, not at
// the next GC.
func TestRecordsStopAtTheirSignedExpiry(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.RecordTTL = 2 * time.Second
	cfg.GCInterval = time.Hour // expiry must hold without GC
	sns := inproc.StartSupernodes(t, 4, cfg)
	all := inproc.Infos(sns)
	dead := inproc.StartLeaf(t, inproc.LeafConfig(all[:1]))
	c := inproc.CID(t, "mortal")
	if _, err := dead.Announce(t.Context(), []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	announced := time.Now()
	dead.Close()
	inproc.WaitFor(t, 5*time.Second, "expiry", func() bool {
		for _, sn := range sns {
			if got, _ := sn.Lookup(t.Context(), c, 0); len(got) > 0 {
				return false
			}
		}
		return true
	})
	if gone := time.Since(announced); gone > cfg.RecordTTL+time.Second {
		t.Fatalf("records returned until %s after announce (signed TTL %s)", gone, cfg.RecordTTL)
	}
}

// Repair: killing 2 of 6 supernodes puts every live CID back on r live
// supernodes without any leaf refresh.
func TestRepairRestoresRCopiesAfterKills(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.ReplicationFactor = 3
	sns := inproc.StartSupernodes(t, 6, cfg)
	all := inproc.Infos(sns)
	lc := inproc.LeafConfig(all[:1])
	lc.RefreshFraction = 0.99 // no refresh within the test
	l := inproc.StartLeaf(t, lc)
	cs := objects(t, "repaired", 30)
	if _, err := l.Announce(t.Context(), cs); err != nil {
		t.Fatal(err)
	}
	var victims, live []*supernode.Node
	for _, sn := range sns {
		if len(victims) < 2 && sn.Host().ID() != l.Primary() {
			victims = append(victims, sn)
		} else {
			live = append(live, sn)
		}
	}
	killed := time.Now()
	for _, v := range victims {
		v.Close()
		v.Host().Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		short := 0
		for _, c := range cs {
			if copies(t, live, c, l.Host().ID()) < 3 {
				short++
			}
		}
		if short == 0 {
			break
		}
		if time.Now().After(deadline) {
			for _, c := range cs {
				if copies(t, live, c, l.Host().ID()) < 3 {
					t.Logf("short: %s", c)
				}
			}
			t.Fatalf("%d of %d CIDs still on fewer than 3 live supernodes 10 s after the kills", short, len(cs))
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	t.Logf("r copies restored %s after killing 2 of 6 supernodes", time.Since(killed))
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, c := range cs {
		if n := copies(t, live, c, l.Host().ID()); n != 3 {
			t.Fatalf("CID %s on %d live supernodes after repair, want exactly 3", c, n)
		}
		if got, err := live[0].Lookup(ctx, c, 0); err != nil || len(got) != 1 {
			t.Fatalf("lookup of %s after repair: %v %v", c, got, err)
		}
	}
}
