package leaf

import (
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// The leaf re-announces its objects every third of the record TTL the
// supernode reports, with increasing sequence numbers.
func TestRefreshEveryThirdOfTTL(t *testing.T) {
	w := newWorld(t, 1, 60_000)
	sn := w.sns[0]
	sn.ttlMs = (30 * time.Minute).Milliseconds()
	cfg := w.config(sn)
	cfg.Backups = 0
	// Steps of 10 s of simulated time: every timeout must be longer than a
	// step (see world.advance).
	cfg.RequestTimeout = 30 * time.Second
	a := w.start(cfg)
	w.attached(0)
	if a.RecordTTL() != 30*time.Minute {
		t.Fatalf("record TTL %s, want the supernode's 30m", a.RecordTTL())
	}
	if _, err := a.Announce(t.Context(), []cid.Cid{testCID(t, "a"), testCID(t, "b")}); err != nil {
		t.Fatal(err)
	}
	count := func() int { return sn.received("announce") }
	if count() != 1 {
		t.Fatalf("%d announces, want 1", count())
	}
	// Nothing before a third of the TTL (10 min) …
	w.advance(9*time.Minute, 10*time.Second)
	if count() != 1 {
		t.Fatalf("%d announces after 9 min, want no refresh yet", count())
	}
	// … then one refresh per 10 minutes.
	w.advance(2*time.Minute, 10*time.Second)
	if count() != 2 {
		t.Fatalf("%d announces after 11 min, want one refresh", count())
	}
	w.advance(10*time.Minute, 10*time.Second)
	if count() != 3 {
		t.Fatalf("%d announces after 21 min, want two refreshes", count())
	}
	sn.mu.Lock()
	seqs := slices.Clone(sn.seqs)
	sn.mu.Unlock()
	if !slices.IsSorted(seqs) || len(slices.Compact(slices.Clone(seqs))) != len(seqs) {
		t.Fatalf("sequence numbers %v, want strictly increasing", seqs)
	}
}

// The announced set survives a restart in the data dir and is announced
// again as soon as the new agent attaches.
func TestRestoredObjectsReannounced(t *testing.T) {
	w := newWorld(t, 1, 1000)
	sn := w.sns[0]
	cfg := w.config(sn)
	cfg.Backups = 0
	cfg.DataDir = t.TempDir()
	a := w.start(cfg)
	w.attached(0)
	objs := []cid.Cid{testCID(t, "a"), testCID(t, "b"), testCID(t, "c")}
	if _, err := a.Announce(t.Context(), objs); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Withdraw(t.Context(), objs[2:]); err != nil {
		t.Fatal(err)
	}
	a.Close()
	before := sn.answers("announce")

	b := w.start(cfg)
	if got := b.Objects(); len(got) != 2 {
		t.Fatalf("restored %d objects, want 2 (c was withdrawn)", len(got))
	}
	w.attached(0)
	w.advanceUntil("the restored set re-announced", 5*time.Second, 100*time.Millisecond, func() bool {
		return sn.answers("announce") > before
	})
}

// With a short record TTL each refresh reaches the supernode before the
// last announcement expires: at most two thirds of the TTL after the last
// (maintenance runs on a grid of the refresh period, so a refresh waits at
// most one period past its due time), wherever the first announce fell
// between the agent's ticks. A first announce into an empty set must wake
// the maintenance loop, which an idle leaf paces by its discovery interval
// (before it did, 2 announcements reached the supernode in 30 s), and a
// refresh stamped just after a tick must count as due at the next one
// (before, refreshes came every two periods, and a 3 s record expired in
// the overlay).
func TestShortTTLRefreshedBeforeExpiry(t *testing.T) {
	const ttl, hb, step = 3 * time.Second, 250 * time.Millisecond, 50 * time.Millisecond
	w := newWorld(t, 1, hb.Milliseconds())
	sn := w.sns[0]
	sn.ttlMs = ttl.Milliseconds()
	cfg := w.config(sn)
	cfg.Backups = 0
	cfg.HeartbeatInterval = hb
	a := w.start(cfg)
	w.attached(0)
	w.advance(1370*time.Millisecond, step) // off every grid of the agent's
	if _, err := a.Announce(t.Context(), []cid.Cid{testCID(t, "short")}); err != nil {
		t.Fatal(err)
	}
	w.advance(30*time.Second, step)
	sn.mu.Lock()
	batches, arrived := slices.Clone(sn.batches), slices.Clone(sn.arrived)
	sn.mu.Unlock()
	// 30 s at one refresh per period (1 s).
	if len(arrived) < 26 || len(arrived) > 32 {
		t.Fatalf("%d announcements in 30 s with a 3 s TTL, want one a second", len(arrived))
	}
	bound := 2*time.Duration(float64(ttl)*cfg.RefreshFraction) + step
	for i := 1; i < len(arrived); i++ {
		if gap := arrived[i].Sub(arrived[i-1]); gap > bound {
			t.Errorf("refresh %d came %v after the last, want ≤ %v", i, gap, bound)
		}
		if !arrived[i].Before(batches[i-1].Expires) {
			t.Errorf("refresh %d came at %v, after the last announcement expired (%v)", i, arrived[i], batches[i-1].Expires)
		}
	}
}
