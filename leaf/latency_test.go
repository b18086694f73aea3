package leaf

import (
	"testing"
	"time"
)

func TestLatencyWindowP90(t *testing.T) {
	var w latencyWindow
	for i := 1; i <= 3; i++ {
		w.add(time.Duration(i) * time.Millisecond)
	}
	if _, ok := w.p90(); ok {
		t.Fatal("p90 of 3 samples: want unknown (fewer than minLatencySamples)")
	}
	for i := 4; i <= 10; i++ {
		w.add(time.Duration(i) * time.Millisecond)
	}
	if q, ok := w.p90(); !ok || q != 9*time.Millisecond {
		t.Fatalf("p90 of 1..10 ms = %s, want 9ms (nearest rank)", q)
	}
	// The window forgets: 32 slow answers push out the fast ones.
	for range latencySamples {
		w.add(time.Second)
	}
	if q, _ := w.p90(); q != time.Second {
		t.Fatalf("p90 after %d slow answers = %s, want 1s", latencySamples, q)
	}
	if w.n != latencySamples {
		t.Fatalf("window holds %d samples, want %d", w.n, latencySamples)
	}
}

func TestHedgePolicyBound(t *testing.T) {
	p := hedgePolicy{Floor: 25 * time.Millisecond, Factor: 3, Cold: 40 * time.Millisecond, Cap: time.Second}
	var w latencyWindow
	if got := p.bound(&w); got != 40*time.Millisecond {
		t.Fatalf("cold bound %s, want Cold 40ms", got)
	}
	for range 10 {
		w.add(2 * time.Millisecond)
	}
	if got := p.bound(&w); got != 25*time.Millisecond {
		t.Fatalf("3 × 2ms = 6ms is under the floor: bound %s, want 25ms", got)
	}
	for range 10 {
		w.add(100 * time.Millisecond)
	}
	if got := p.bound(&w); got != 300*time.Millisecond {
		t.Fatalf("bound %s, want 3 × p90 100ms = 300ms", got)
	}
	for range latencySamples {
		w.add(2 * time.Second)
	}
	if got := p.bound(&w); got != time.Second {
		t.Fatalf("bound %s, want the cap 1s", got)
	}
}
