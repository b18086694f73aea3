package leaf

import (
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// An overloaded primary (ρ ≥ Rebalance.Rho) loses the leaf's lookups to the
// lightest backup, which becomes the primary; the old primary stays
// attached as a backup, no failover is counted, and the announced set is
// refreshed through the new primary. Lookups then go to it. Simulated time.
func TestOverloadedPrimaryMovesToLightestBackup(t *testing.T) {
	w := newWorld(t, 3, 1000)
	cfg := w.config(w.sns...)
	cfg.Rebalance = RebalanceConfig{Rho: 0.8, Interval: 5 * time.Second}
	a := w.start(cfg)
	w.attached(2)
	if _, err := a.Announce(t.Context(), []cid.Cid{testCID(t, "a"), testCID(t, "b")}); err != nil {
		t.Fatal(err)
	}
	old := w.byID(a.Primary())
	var light, mid *fakeSN
	for _, f := range w.sns {
		if f != old {
			if light == nil {
				light = f
			} else {
				mid = f
			}
		}
	}
	// ρ 0.7 is below the threshold: nothing moves for three intervals.
	old.setRho(0.7)
	light.setRho(0.05)
	mid.setRho(0.3)
	w.advance(15*time.Second, 100*time.Millisecond)
	if a.Primary() != old.h.ID() {
		t.Fatalf("primary moved at ρ 0.7 < 0.8")
	}
	// Overloaded (ρ 50: a move is all but certain at each look): the
	// lightest backup takes over within a few intervals.
	announcesBefore := light.received("announce")
	old.setRho(50)
	w.advanceUntil("primary moved", 30*time.Second, 100*time.Millisecond, func() bool { return a.Primary() == light.h.ID() })
	if got := len(a.Supernodes()); got != 3 {
		t.Fatalf("%d supernodes attached after the move, want 3 (old primary kept as a backup)", got)
	}
	if a.Failovers() != 0 {
		t.Fatalf("%d failovers, want 0 (a move is not a failure)", a.Failovers())
	}
	w.advanceUntil("refresh through the new primary", 10*time.Second, 100*time.Millisecond, func() bool {
		return light.received("announce") > announcesBefore
	})
	before := [2]int{old.received("lookup"), light.received("lookup")}
	if err := result(t, lookupAsync(t, a, "after the move")); err != nil {
		t.Fatalf("lookup: %v", err)
	}
	if old.received("lookup") != before[0] || light.received("lookup") != before[1]+1 {
		t.Fatalf("lookup went to old %d→%d, new %d→%d; want the new primary only",
			before[0], old.received("lookup"), before[1], light.received("lookup"))
	}
	// Now the new primary is light and the old one heavy: no move back.
	w.advance(20*time.Second, 100*time.Millisecond)
	if a.Primary() != light.h.ID() {
		t.Fatalf("primary moved again, to %s", a.Primary())
	}
}

// With no backup under ¾ of Rebalance.Rho, the leaf stays.
func TestOverloadedPrimaryStaysWithoutLighterBackup(t *testing.T) {
	w := newWorld(t, 3, 1000)
	cfg := w.config(w.sns...)
	cfg.Rebalance = RebalanceConfig{Rho: 0.8, Interval: 5 * time.Second}
	a := w.start(cfg)
	w.attached(2)
	old := a.Primary()
	for _, f := range w.sns {
		f.setRho(0.61)
	}
	w.byID(old).setRho(1.6)
	w.advance(30*time.Second, 100*time.Millisecond)
	if a.Primary() != old {
		t.Fatalf("primary moved to a backup at ρ 0.61 (primary 1.6)")
	}
}

func TestRebalanceConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Rebalance = RebalanceConfig{Rho: 0.8}
	if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Rho without Interval: %v", err)
	}
	c.Rebalance = RebalanceConfig{}
	if err := c.Validate(); err != nil {
		t.Fatalf("disabled: %v", err)
	}
}
