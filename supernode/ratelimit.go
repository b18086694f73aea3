package supernode

import (
	"maps"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// peerLimiter is a token bucket per remote peer.
type peerLimiter struct {
	mu    sync.Mutex
	rps   rate.Limit
	burst int
	peers map[peer.ID]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newPeerLimiter(rps float64, burst int) *peerLimiter {
	return &peerLimiter{rps: rate.Limit(rps), burst: burst, peers: make(map[peer.ID]*limiterEntry)}
}

func (l *peerLimiter) allow(p peer.ID, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.peers[p]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(l.rps, l.burst)}
		l.peers[p] = e
	}
	e.seen = now
	return e.lim.AllowN(now, 1)
}

// gc forgets peers idle for longer than idle.
func (l *peerLimiter) gc(now time.Time, idle time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	maps.DeleteFunc(l.peers, func(_ peer.ID, e *limiterEntry) bool { return now.Sub(e.seen) > idle })
}
