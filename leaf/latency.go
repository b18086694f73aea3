package leaf

import (
	"slices"
	"time"
)

// latencyWindow keeps a supernode's most recent answer times for one kind
// of request, from which the agent learns how long to wait for it before
// asking another supernode too.
type latencyWindow struct {
	samples [latencySamples]time.Duration
	n       int // samples held (≤ latencySamples)
	next    int // ring position of the next sample
}

const (
	// latencySamples: the window's length. Short, so a supernode that
	// slows down (or recovers) changes the bound within a few dozen
	// requests.
	latencySamples = 32
	// minLatencySamples: fewer than this and the window knows nothing.
	minLatencySamples = 4
)

func (w *latencyWindow) add(d time.Duration) {
	w.samples[w.next] = max(d, 0)
	w.next = (w.next + 1) % latencySamples
	w.n = min(w.n+1, latencySamples)
}

// p90 is the 90th percentile of the window (nearest rank), ok false while
// it holds fewer than minLatencySamples.
func (w *latencyWindow) p90() (time.Duration, bool) {
	if w.n < minLatencySamples {
		return 0, false
	}
	s := slices.Clone(w.samples[:w.n])
	slices.Sort(s)
	rank := (9*w.n + 9) / 10 // ⌈0.9·n⌉
	return s[rank-1], true
}

// hedgePolicy turns a latency window into a wait bound:
// clamp(Factor × p90, Floor, Cap), and Cold while the window knows nothing.
type hedgePolicy struct {
	Floor  time.Duration
	Factor float64
	Cold   time.Duration
	Cap    time.Duration
}

func (p hedgePolicy) bound(w *latencyWindow) time.Duration {
	b := p.Cold
	if q, ok := w.p90(); ok {
		b = time.Duration(p.Factor * float64(q))
	}
	b = max(b, p.Floor)
	if p.Cap > 0 {
		b = min(b, max(p.Cap, p.Floor))
	}
	return b
}
