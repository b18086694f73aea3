package supernode

import (
	"maps"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// cidLimiter budgets announced CIDs per second per leaf, per network prefix
// and in total (token buckets with a second's burst), so the cost a peer
// can put on a supernode grows with what it announces, not with its
// requests, and throwaway identities on one network share one budget.
type cidLimiter struct {
	mu       sync.Mutex
	rates    CIDRates
	total    *rate.Limiter
	byPeer   map[peer.ID]*bucket
	byPrefix map[string]*bucket
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newCIDLimiter(r CIDRates) *cidLimiter {
	l := &cidLimiter{rates: r, byPeer: make(map[peer.ID]*bucket), byPrefix: make(map[string]*bucket)}
	if r.Total > 0 {
		l.total = rate.NewLimiter(rate.Limit(r.Total), int(max(r.Total, 256)))
	}
	return l
}

func newBucket(r float64) *bucket {
	return &bucket{lim: rate.NewLimiter(rate.Limit(r), int(max(r, 256)))}
}

// allowLeaf takes n CIDs from leaf's, its prefix's and the total budget,
// all or nothing; refused, it says how long until the budget that refused
// would have them (maxRefusalDelay if it never would).
func (l *cidLimiter) allowLeaf(leaf peer.ID, prefix string, n int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var take []*rate.Limiter
	if l.rates.PerLeaf > 0 {
		take = append(take, l.get(l.byPeer, leaf, l.rates.PerLeaf, now))
	}
	if l.rates.PerPrefix > 0 && prefix != "" {
		b := l.byPrefix[prefix]
		if b == nil {
			b = newBucket(l.rates.PerPrefix)
			l.byPrefix[prefix] = b
		}
		b.seen = now
		take = append(take, b.lim)
	}
	if l.total != nil {
		take = append(take, l.total)
	}
	return reserveAll(take, n, now)
}

// allowPeer budgets CIDs another supernode asks this one to store (at
// ten times a leaf's rate: it forwards many leaves' announcements).
func (l *cidLimiter) allowPeer(p peer.ID, n int, now time.Time) bool {
	if l.rates.PerLeaf <= 0 || n == 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, _ := reserveAll([]*rate.Limiter{l.get(l.byPeer, p, 10*l.rates.PerLeaf, now)}, n, now)
	return ok
}

func (l *cidLimiter) get(m map[peer.ID]*bucket, p peer.ID, r float64, now time.Time) *rate.Limiter {
	b := m[p]
	if b == nil {
		b = newBucket(r)
		m[p] = b
	}
	b.seen = now
	return b.lim
}

// reserveAll takes n tokens from every limiter or from none; refused, it
// returns the wait the refusing limiter named.
func reserveAll(ls []*rate.Limiter, n int, now time.Time) (bool, time.Duration) {
	var rs []*rate.Reservation
	for _, lim := range ls {
		r := lim.ReserveN(now, n)
		if wait := r.DelayFrom(now); !r.OK() || wait > 0 {
			if !r.OK() {
				wait = maxRefusalDelay
			}
			r.CancelAt(now)
			for _, done := range rs {
				done.CancelAt(now)
			}
			return false, wait
		}
		rs = append(rs, r)
	}
	return true, 0
}

// gc forgets buckets idle for longer than idle.
func (l *cidLimiter) gc(now time.Time, idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	maps.DeleteFunc(l.byPeer, func(_ peer.ID, b *bucket) bool { return now.Sub(b.seen) > idle })
	maps.DeleteFunc(l.byPrefix, func(_ string, b *bucket) bool { return now.Sub(b.seen) > idle })
}
