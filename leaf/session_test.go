package leaf

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
)

// Several requests run at once on one session, at most MaxStreams of them;
// heartbeats keep flowing on their own stream while every data stream is
// stuck.
func TestSessionRunsRequestsConcurrently(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, sn := w.startAlone(func(c *Config) { c.MaxStreams = 3 })
	sn.holdEverything()
	sn.setHold("lookup", true)

	const n = 5
	var chs []<-chan error
	for i := range n {
		c := testCID(t, string(rune('a'+i)))
		chs = append(chs, goAsync(func() error { _, err := a.Lookup(t.Context(), c, 0); return err }))
	}
	w.settle()
	if got := sn.received("lookup"); got != a.cfg.MaxStreams {
		t.Fatalf("supernode got %d lookups at once, want MaxStreams = %d (the others wait for a stream)", got, a.cfg.MaxStreams)
	}
	if open := a.primary.data.open(); open != a.cfg.MaxStreams {
		t.Fatalf("%d data streams open, want %d", open, a.cfg.MaxStreams)
	}
	beats := sn.answers("heartbeat")
	w.advance(3*time.Second, 100*time.Millisecond) // under the 5 s request timeout
	if got := sn.answers("heartbeat") - beats; got < 2 {
		t.Fatalf("%d heartbeats answered in 3 heartbeat intervals while the data streams were stuck, want ≥ 2", got)
	}
	sn.setHold("lookup", false)
	for i, ch := range chs {
		if err := result(t, ch); err != nil {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if got := sn.answers("lookup"); got != n {
		t.Fatalf("supernode answered %d lookups, want %d", got, n)
	}
	if a.Failovers() != 0 {
		t.Fatalf("%d failovers, want 0", a.Failovers())
	}
}

// The request timeout counts from when the request is written, never while
// it waits for a stream: a request queued behind a slow one gets its whole
// timeout once it is sent.
func TestRequestTimeoutStartsWhenWritten(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, sn := w.startAlone(oneStream)
	sn.setHold("lookup", true)

	first := lookupAsync(t, a, "first")
	w.settle()
	second := lookupAsync(t, a, "second")
	w.advance(4*time.Second, 100*time.Millisecond)
	if got := sn.received("lookup"); got != 1 {
		t.Fatalf("supernode got %d lookups, want 1 (one stream)", got)
	}
	sn.releaseOne() // the first is answered at 4 s; the second is written now
	if err := result(t, first); err != nil {
		t.Fatalf("first lookup: %v", err)
	}
	w.settle()
	if got := sn.received("lookup"); got != 2 {
		t.Fatalf("supernode got %d lookups, want 2", got)
	}
	// 8.5 s after the second lookup was asked, 4.5 s after it was written:
	// within its 5 s timeout.
	w.advance(4500*time.Millisecond, 100*time.Millisecond)
	select {
	case err := <-second:
		t.Fatalf("second lookup ended %s after it was written (timeout 5s): %v", 4500*time.Millisecond, err)
	default:
	}
	sn.releaseOne()
	if err := result(t, second); err != nil {
		t.Fatalf("second lookup: %v", err)
	}
	if a.Failovers() != 0 || a.Primary() != sn.h.ID() {
		t.Fatalf("primary %s after %d failovers, want the one supernode kept", a.Primary(), a.Failovers())
	}
}

// A slow announce (a replica that never answers keeps the primary waiting)
// holds one data stream; the primary answers heartbeats meanwhile, so it is
// neither dropped nor bypassed: the announce goes to no backup.
func TestSlowAnnounceKeepsPrimary(t *testing.T) {
	w := newWorld(t, 3, 1000)
	a := w.start(w.config(w.sns...))
	w.attached(2)
	primary := w.byID(a.Primary())
	primary.setHold("announce", true)
	beats := primary.answers("heartbeat")

	ch := goAsync(func() error { _, err := a.Announce(t.Context(), []cid.Cid{testCID(t, "slow")}); return err })
	w.advance(3*time.Second, 50*time.Millisecond)
	if got := primary.answers("heartbeat") - beats; got < 2 {
		t.Fatalf("%d heartbeats answered during a 3 s announce, want ≥ 2", got)
	}
	for _, f := range w.sns {
		if f != primary && f.received("announce") != 0 {
			t.Fatalf("backup got %d announces; a primary that answers heartbeats is not silent", f.received("announce"))
		}
	}
	primary.setHold("announce", false)
	if err := result(t, ch); err != nil {
		t.Fatal(err)
	}
	if a.Primary() != primary.h.ID() || a.Failovers() != 0 {
		t.Fatalf("primary changed (%d failovers)", a.Failovers())
	}
}

// An idle data stream that the supernode closed is replaced without
// charging the supernode.
func TestClosedIdleStreamIsReopened(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, sn := w.startAlone(oneStream)
	// A held request ends its stream on the fake's side once answered.
	sn.setHold("lookup", true)
	ch := lookupAsync(t, a, "a")
	w.settle()
	sn.setHold("lookup", false)
	if err := result(t, ch); err != nil {
		t.Fatal(err)
	}
	w.settle()
	if _, err := a.Lookup(t.Context(), testCID(t, "b"), 0); err != nil {
		t.Fatalf("lookup on a stream the supernode closed: %v", err)
	}
	if a.Failovers() != 0 || errors.Is(context.Cause(t.Context()), context.Canceled) {
		t.Fatalf("%d failovers, want 0", a.Failovers())
	}
}
