package leaf

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// A frozen primary (SIGSTOP: connection up, nothing answered) is replaced
// within two heartbeat intervals, counted in simulated time.
func TestFrozenPrimaryReplacedWithinTwoHeartbeats(t *testing.T) {
	for _, hbMs := range []int64{1000, 3000} {
		w := newWorld(t, 3, hbMs)
		a := w.start(w.config(w.sns...))
		w.attached(2)
		interval := time.Duration(hbMs) * time.Millisecond
		// Freeze at an arbitrary point of the heartbeat cycle.
		w.advance(interval/3, interval/30)
		old := a.Primary()
		w.byID(old).setFrozen(true)
		took := w.advanceUntil("a new primary", 3*interval, interval/50, func() bool {
			p := a.Primary()
			return p != "" && p != old
		})
		if took > 2*interval {
			t.Fatalf("heartbeat %s: new primary after %s, want ≤ two intervals", interval, took)
		}
		if a.Failovers() != 1 {
			t.Fatalf("%d failovers, want 1", a.Failovers())
		}
		t.Logf("heartbeat %s: frozen primary replaced after %s (simulated)", interval, took)
		w.byID(old).setFrozen(false)
	}
}

// The leaf heartbeats at the interval the supernode asks for, not its own
// default.
func TestHeartbeatIntervalFromSupernode(t *testing.T) {
	w := newWorld(t, 1, 2500)
	cfg := w.config(w.sns[0])
	cfg.Backups = 0
	w.start(cfg) // default 1 s
	w.attached(0)
	before := w.sns[0].answers("heartbeat")
	w.advance(25*time.Second, 100*time.Millisecond)
	got := w.sns[0].answers("heartbeat") - before
	if got < 9 || got > 11 {
		t.Fatalf("%d heartbeats in 25 s, want 10 (every 2.5 s as asked)", got)
	}
}

// Backups heartbeat protocol.BackupHeartbeatFactor times less often than
// the primary (two of three heartbeat streams of an idle leaf); a backup
// promoted to primary beats at the primary's pace at once.
func TestBackupsHeartbeatLessOften(t *testing.T) {
	w := newWorld(t, 3, 1000)
	a := w.start(w.config(w.sns...))
	w.attached(2)
	primary := w.byID(a.Primary())
	before := map[*fakeSN]int{}
	for _, f := range w.sns {
		before[f] = f.answers("heartbeat")
	}
	w.advance(30*time.Second, 100*time.Millisecond)
	for _, f := range w.sns {
		got := f.answers("heartbeat") - before[f]
		want := 30
		if f != primary {
			want = 30 / protocol.BackupHeartbeatFactor
		}
		if got < want-1 || got > want+1 {
			t.Fatalf("%s (primary %v): %d heartbeats in 30 s, want %d", f.h.ID(), f == primary, got, want)
		}
	}
	primary.setFrozen(true)
	w.advanceUntil("a new primary", 3*time.Second, 20*time.Millisecond, func() bool {
		p := a.Primary()
		return p != "" && p != primary.h.ID()
	})
	next := w.byID(a.Primary())
	n0 := next.answers("heartbeat")
	w.advance(10*time.Second, 100*time.Millisecond)
	if got := next.answers("heartbeat") - n0; got < 9 {
		t.Fatalf("promoted backup: %d heartbeats in 10 s, want ≥ 9 (every second, as a primary)", got)
	}
}

// A silent primary does not hold announces back: once a heartbeat shows it
// silent, the announce goes to a backup too, long before the primary is
// replaced.
func TestAnnounceGoesToBackupWhilePrimarySilent(t *testing.T) {
	w := newWorld(t, 3, 1000)
	a := w.start(w.config(w.sns...))
	w.attached(2)
	old := w.byID(a.Primary())
	old.setFrozen(true)
	start := w.clk.Now()
	ch := goAsync(func() error { _, err := a.Announce(t.Context(), []cid.Cid{testCID(t, "x")}); return err })
	var took time.Duration
	w.advanceUntil("the announce", 3*time.Second, 10*time.Millisecond, func() bool {
		select {
		case err := <-ch:
			if err != nil {
				t.Fatalf("announce: %v", err)
			}
			took = w.clk.Since(start)
			return true
		default:
			return false
		}
	})
	backups := w.othersThan(old, func(f *fakeSN) int { return f.answers("announce") })
	if backups != 1 {
		t.Fatalf("backups answered %d announces, want 1", backups)
	}
	if took >= time.Second {
		t.Fatalf("announce took %s with a silent primary, want < one heartbeat interval", took)
	}
	t.Logf("announce answered by a backup %s after the primary froze (simulated)", took)
}

// Refusals: INTERNAL and STEPPING_DOWN are the supernode's (the leaf drops
// it and asks a backup); RATE_LIMITED moves the request to a backup without
// charging; our own BAD_REQUEST is returned and charges nobody; the
// caller's cancellation neither.
func TestFailureCharging(t *testing.T) {
	for _, c := range []struct {
		status    pb.Status
		dropped   bool
		wantErr   error
		backupHit bool
	}{
		{pb.Status_INTERNAL, true, nil, true},
		{pb.Status_STEPPING_DOWN, true, nil, true},
		{pb.Status_RATE_LIMITED, false, nil, true},
		{pb.Status_BAD_REQUEST, false, protocol.ErrBadRequest, false},
	} {
		t.Run(c.status.String(), func(t *testing.T) {
			w := newWorld(t, 3, 1000)
			a, primary := w.startHoldingEverything()
			primary.setStatus("lookup", c.status)
			got, err := a.Lookup(t.Context(), testCID(t, "x"), 0)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("lookup: %v, want %v", err, c.wantErr)
				}
			} else if err != nil || len(got) != 1 || got[0].ID == primary.h.ID() {
				t.Fatalf("lookup: %v %v, want a backup's answer", got, err)
			}
			backupHits := 0
			for _, f := range w.sns {
				if f != primary {
					backupHits += f.received("lookup")
				}
			}
			if (backupHits > 0) != c.backupHit {
				t.Fatalf("backups got %d lookups, want asked = %v", backupHits, c.backupHit)
			}
			w.settle()
			if dropped := a.Primary() != primary.h.ID(); dropped != c.dropped {
				t.Fatalf("primary dropped = %v, want %v (failovers %d)", dropped, c.dropped, a.Failovers())
			}
		})
	}

	t.Run("caller cancels", func(t *testing.T) {
		w := newWorld(t, 3, 1000)
		a := w.start(w.config(w.sns...))
		w.attached(2)
		primary := w.byID(a.Primary())
		primary.setHold("lookup", true)
		ctx, cancel := context.WithCancel(t.Context())
		ch := goAsync(func() error { _, err := a.Lookup(ctx, testCID(t, "x"), 0); return err })
		w.settle() // the clock stands still: no hedge
		cancel()
		if err := result(t, ch); !errors.Is(err, context.Canceled) {
			t.Fatalf("lookup: %v, want context.Canceled", err)
		}
		w.advance(3*time.Second, 100*time.Millisecond)
		if a.Primary() != primary.h.ID() || a.Failovers() != 0 {
			t.Fatalf("the caller's cancellation was charged to the primary (%d failovers)", a.Failovers())
		}
	})
}

// NOT_ATTACHED (the supernode restarted and forgot us) makes the leaf attach
// again and keep the supernode.
func TestNotAttachedReattaches(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, sn := w.startAlone(nil)
	attaches := sn.answers("attach")
	sn.setStatus("heartbeat", pb.Status_NOT_ATTACHED)
	w.advanceUntil("a new attach", 3*time.Second, 100*time.Millisecond, func() bool { return sn.answers("attach") > attaches })
	sn.clearStatus("heartbeat")
	w.advance(3*time.Second, 100*time.Millisecond)
	if a.Primary() != sn.h.ID() || a.Failovers() != 0 {
		t.Fatalf("primary %s, %d failovers; want the supernode kept", a.Primary(), a.Failovers())
	}
}

// With no supernode reachable an announce fails within AttachWait, naming
// every address tried; the CIDs stay in the announced set.
func TestAnnounceWithoutSupernodeFailsFast(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		w := newWorld(t, 0, 1000)
		// Two peers no link reaches.
		var infos []peer.AddrInfo
		for range 2 {
			h, err := w.mn.GenPeer()
			if err != nil {
				t.Fatal(err)
			}
			infos = append(infos, peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()})
		}
		cfg := w.config()
		cfg.Supernodes = infos
		h, err := w.mn.GenPeer()
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(h, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		w.a = a
		checkFailsFast(t, w, a, infos)
	})
	t.Run("frozen", func(t *testing.T) {
		w := newWorld(t, 2, 1000)
		for _, f := range w.sns {
			f.setFrozen(true) // connects and answers ping, never the attach
		}
		a := w.start(w.config(w.sns...))
		checkFailsFast(t, w, a, []peer.AddrInfo{w.sns[0].info(), w.sns[1].info()})
		// Once the supernodes answer again, the CID reaches the overlay
		// without another call.
		for _, f := range w.sns {
			f.setFrozen(false)
		}
		took := w.advanceUntil("the failed announce retried", 30*time.Second, 100*time.Millisecond, func() bool {
			return w.sns[0].answers("announce")+w.sns[1].answers("announce") > 0
		})
		t.Logf("announced %s after the supernodes recovered (simulated)", took)
	})
}

func checkFailsFast(t *testing.T, w *world, a *Agent, tried []peer.AddrInfo) {
	t.Helper()
	c := testCID(t, "orphan")
	ch := goAsync(func() error { _, err := a.Announce(t.Context(), []cid.Cid{c}); return err })
	var err error
	took := w.advanceUntil("the announce to fail", 2*a.cfg.AttachWait, 50*time.Millisecond, func() bool {
		select {
		case err = <-ch:
			return true
		default:
			return false
		}
	})
	var nse *NoSupernodeError
	if !errors.As(err, &nse) || !errors.Is(err, ErrNoSupernode) {
		t.Fatalf("announce: %v, want a NoSupernodeError", err)
	}
	if took > a.cfg.AttachWait {
		t.Fatalf("announce failed after %s, want ≤ AttachWait %s", took, a.cfg.AttachWait)
	}
	for _, p := range tried {
		if !strings.Contains(err.Error(), p.ID.String()) || !strings.Contains(err.Error(), p.Addrs[0].String()) {
			t.Fatalf("error %q does not name %s", err, fullAddr(p))
		}
	}
	if objs := a.Objects(); len(objs) != 1 || !objs[0].Equals(c) {
		t.Fatalf("announced set %v, want the CID kept for when a supernode attaches", objs)
	}
	t.Logf("failed after %s (simulated): %v", took.Round(time.Millisecond), err)
}

// An idle leaf with its primary and backups settled runs its maintenance
// once per discovery interval (its most frequent chore), not every few
// heartbeats: in 5 minutes, 10 asks for supernodes at 30 s, ±1. A lost
// backup still pokes the loop at once.
func TestSettledLeafMaintainsPerDiscoveryInterval(t *testing.T) {
	w := newWorld(t, 4, 1000)
	cfg := w.config(w.sns...)
	cfg.DiscoveryInterval = 30 * time.Second
	a := w.start(cfg)
	w.attached(2)
	asks := func() int { return w.othersThan(nil, func(f *fakeSN) int { return f.received("supernodes") }) }
	if got := a.maintainEvery(); got != cfg.DiscoveryInterval {
		t.Fatalf("settled: maintenance every %v, want the discovery interval %v", got, cfg.DiscoveryInterval)
	}
	before := asks()
	w.advance(5*time.Minute, 250*time.Millisecond)
	if got := asks() - before; got < 9 || got > 11 {
		t.Fatalf("%d asks for supernodes in 5 min of idle; want 10 (every 30 s)", got)
	}
	backup := w.byID(a.Supernodes()[1].ID) // primary first, then the backups
	backup.setFrozen(true)
	w.advanceUntil("a new backup", 10*time.Second, 100*time.Millisecond, func() bool {
		sns := a.Supernodes()
		return len(sns) == 3 && !slices.ContainsFunc(sns, func(ai peer.AddrInfo) bool { return ai.ID == backup.h.ID() })
	})
}

// An idle leaf's heartbeats share one tick grid: every backup beat comes
// at the instant of a primary beat (the process wakes once for both), and
// the pace of each is unchanged.
func TestIdleHeartbeatsCoincide(t *testing.T) {
	w := newWorld(t, 3, 1000)
	a := w.start(w.config(w.sns...))
	w.attached(2)
	// Beat each backup off the grid (as a lost connection's probe does):
	// its later beats return to the grid.
	w.advance(1350*time.Millisecond, 50*time.Millisecond)
	for _, ai := range a.Supernodes()[1:] {
		a.sessionOf(ai.ID).probe()
	}
	w.advance(3*time.Second, 50*time.Millisecond) // past the attach-time and probe beats
	from := w.clk.Now()
	w.advance(30*time.Second, 50*time.Millisecond)
	primary := w.byID(a.Primary())
	at := map[time.Time]bool{}
	for _, b := range primary.beatTimes() {
		if b.After(from) {
			at[b] = true
		}
	}
	for _, f := range w.sns {
		if f == primary {
			continue
		}
		n := 0
		for _, b := range f.beatTimes() {
			if !b.After(from) {
				continue
			}
			n++
			if !at[b] {
				t.Errorf("backup %s beat at +%v, when the primary did not", f.h.ID(), b.Sub(from))
			}
		}
		if n < 9 || n > 11 {
			t.Errorf("backup %s: %d beats in 30 s, want 10", f.h.ID(), n)
		}
	}
	if len(at) < 29 || len(at) > 31 {
		t.Errorf("primary: %d beats in 30 s, want 30", len(at))
	}
}
