package leaf

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A lookup the primary is slow to answer goes to a backup too after the
// hedge bound (the floor while the primary's answers are fast); the backup's
// answer wins, the primary's request is cancelled, and the primary, which
// still answers heartbeats, is kept.
func TestHedgedLookup(t *testing.T) {
	w := newWorld(t, 3, 1000)
	a, primary := w.startHoldingEverything()
	// Warm up: fast answers teach the leaf the primary's latency.
	for range 10 {
		if _, err := a.Lookup(t.Context(), testCID(t, "warm"), 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := primary.received("lookup"); got != 10 {
		t.Fatalf("primary got %d of 10 warm-up lookups", got)
	}
	bound := a.primary.hedgeAfter("lookup")
	if bound != a.cfg.HedgeFloor {
		t.Fatalf("hedge bound %s after instant answers, want the floor %s", bound, a.cfg.HedgeFloor)
	}

	primary.setHold("lookup", true)
	var got []peer.AddrInfo
	ch := goAsync(func() error {
		var err error
		got, err = a.Lookup(t.Context(), testCID(t, "slow"), 0)
		return err
	})
	took := w.advanceUntil("the hedged lookup", time.Second, time.Millisecond, func() bool {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
			return false
		}
	})
	if len(got) != 1 || got[0].ID == primary.h.ID() {
		t.Fatalf("lookup answered %v, want a backup's holder", got)
	}
	if took < bound || took > bound+5*time.Millisecond {
		t.Fatalf("hedged lookup answered after %s, want just after the bound %s", took, bound)
	}
	backups := w.othersThan(primary, func(f *fakeSN) int { return f.received("lookup") })
	if backups != 1 {
		t.Fatalf("backups got %d lookups, want exactly one hedge", backups)
	}
	w.settle()
	if primary.waiting() != 0 {
		t.Fatalf("the primary's request was not cancelled (%d held)", primary.waiting())
	}
	primary.setHold("lookup", false)
	w.advance(3*time.Second, 100*time.Millisecond)
	if a.Primary() != primary.h.ID() || a.Failovers() != 0 {
		t.Fatalf("a slow lookup was charged to the primary (%d failovers)", a.Failovers())
	}
	t.Logf("hedged after %s (simulated), bound %s", took, bound)
}

// The hedge bound follows the supernode's recent answers: HedgeFactor ×
// their p90.
func TestHedgeBoundLearnedFromAnswers(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, sn := w.startAlone(nil)
	sn.setHold("lookup", true)
	for range 10 {
		ch := lookupAsync(t, a, "x")
		w.advance(80*time.Millisecond, 10*time.Millisecond)
		sn.releaseOne()
		if err := result(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	want := time.Duration(a.cfg.HedgeFactor * float64(80*time.Millisecond))
	if got := a.primary.hedgeAfter("lookup"); got != want {
		t.Fatalf("hedge bound %s after answers of 80 ms, want %s", got, want)
	}
}
