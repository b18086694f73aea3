package election

import (
	"fmt"
	"testing"
	"time"
)

// leafHerdRun: 38 leaves of equal score behind 2 supernodes, every leaf
// offering 0.09375 of a supernode's service rate (1.5 lookups/s at μ = 16,
// the load sweep's N = 40). A supernode serves its own lookups itself, and
// a promoted one takes its share of the leaves' load only relief after
// its promotion (leaves move, load windows measure it); until then the
// others carry it. Every leaf hears both seeds' reports each second. No
// demotions are simulated: it returns the supernodes after 3 minutes.
func leafHerdRun(t *testing.T, relief time.Duration, seed uint64) (supers int) {
	t.Helper()
	cfg := LocalConfig()
	cfg.MaxLeaves = 30
	const (
		leaves  = 38
		perLeaf = 1.5 / 16
	)
	created := t0.Add(-time.Minute)
	type node struct {
		m        *Machine
		x        measured
		promoted time.Time // zero: a leaf
	}
	ns := make([]*node, leaves)
	for i := range ns {
		c := cfg
		c.ID = fmt.Sprintf("leaf-%02d", i)
		x := goodNode(created.Add(-time.Duration(i%2) * time.Second))
		x.upload = 1 << 20 // equal scores, as in a testnet's first minutes (≈ 0.3)
		ns[i] = &node{m: newTestMachine(t, c, created, seed+uint64(i)), x: x}
	}
	for now := t0; now.Before(t0.Add(3 * time.Minute)); now = now.Add(250 * time.Millisecond) {
		carrying := 2.0
		supers = 2
		for _, n := range ns {
			if !n.promoted.IsZero() {
				supers++
				if now.Sub(n.promoted) >= relief {
					carrying++
				}
			}
		}
		rho := perLeaf * float64(leaves+2-supers) / carrying
		sessions := 3 * (leaves + 2 - supers) / supers
		if now.Sub(t0)%time.Second == 0 {
			for _, n := range ns {
				if now.Sub(t0)%(10*time.Second) == 0 {
					n.x.refresh(t, n.m, now)
				}
				if n.m.Role() == RoleLeaf {
					step(t, n.m, Supernodes{Reachable: 2, At: now})
					for _, from := range []string{"sn-0", "sn-1"} {
						step(t, n.m, Demand{From: from, Rho: rho, Leaves: sessions, MaxLeaves: cfg.MaxLeaves, At: now})
					}
				}
			}
		}
		for _, n := range ns {
			n.m.Tick(now)
			for _, d := range n.m.Ready() {
				if d.IsProposal() {
					if d.Target != RoleSupernode {
						t.Fatalf("unexpected proposal %v", d)
					}
					step(t, n.m, RoleChanged{Role: RoleSupernode, At: now})
					n.promoted = now
				}
			}
		}
	}
	return supers
}

// Leaves of equal score that see the same overloaded supernodes do not
// all promote while the first promotions have yet to relieve them: with a
// 15 s relief lag (the testnet's: a 10 s rebalance look and a 5 s load
// window) the count stays within the election's band for this load,
// [5, 9] supernodes (ρ < 0.8 from 5 on; a surplus, ρ ≤ 0.3, from 10 on),
// where a leaf promoting whenever its timer fired made 20 (load sweep,
// N = 40). Synthetic time; several seeds.
func TestLeafHerdThinned(t *testing.T) {
	for _, seed := range []uint64{1, 100, 200, 300} {
		most := leafHerdRun(t, 15*time.Second, seed*1000)
		if most < 5 || most > 9 {
			t.Errorf("seed %d: %d supernodes, want 5..9", seed, most)
		}
		t.Logf("seed %d: %d supernodes", seed, most)
	}
}

// The share a due leaf draws: all of it for one leaf alone behind an
// overloaded supernode; the extra supernodes over the sessions otherwise.
func TestNeedShare(t *testing.T) {
	m := newTestMachine(t, LocalConfig(), t0, 1)
	cases := []struct {
		name string
		v    demandView
		want float64
	}{
		{"alone", demandView{peers: 1, peerRho: 0.9, peerLeaves: 1, peerCap: 10}, 1},
		{"two saturated seeds, 60 sessions", demandView{peers: 2, peerRho: 2, peerLeaves: 60, peerCap: 60}, 2.0 / 60},
		{"fill", demandView{peers: 1, peerRho: 0.1, peerLeaves: 10, peerCap: 10}, 1.0 / 10},
		{"no reports", demandView{}, 1},
	}
	for _, c := range cases {
		if got := m.needShare(c.v); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s: share %.4f, want %.4f", c.name, got, c.want)
		}
	}
}

// A need of fill alone is not thinned: every due leaf promotes (the
// stagger separates them); a need of ρ is.
func TestFillNeedNotThinned(t *testing.T) {
	m := newTestMachine(t, LocalConfig(), t0, 1)
	fill := demandView{peers: 2, peerRho: 0.1, peerLeaves: 20, peerCap: 20}
	for range 50 {
		if !m.drawsPromotion(fill, 0.2) {
			t.Fatal("a fill-only need was thinned")
		}
	}
	load := demandView{peers: 2, peerRho: 2, peerLeaves: 60, peerCap: 60}
	n := 0
	for range 200 {
		if m.drawsPromotion(load, 0.2) {
			n++
		}
	}
	if n == 0 || n > 20 { // share 2/60 × 0.7: ≈ 5 of 200
		t.Fatalf("ρ need: %d of 200 draws promoted, want a few", n)
	}
}
