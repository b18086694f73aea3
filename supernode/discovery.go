package supernode

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Supernodes lists up to limit supernodes usable for placement, this one
// first: discovery answers name supernodes only (no leaf is ever revealed
// to whoever asks).
func (n *Node) Supernodes(limit int) []peer.AddrInfo {
	out := []peer.AddrInfo{n.AddrInfo()}
	for _, p := range n.view.Snapshot().IDs(n.clock.Now()) {
		if len(out) >= limit {
			break
		}
		if p == n.host.ID() {
			continue
		}
		if m, ok := n.view.Get(p); ok {
			out = append(out, peer.AddrInfo{ID: p, Addrs: m.Addrs})
		}
	}
	return out
}

// KnownSupernodes lists up to limit other supernodes this one verified and
// whose certs have not lapsed, usable or marked down (not leaving): the
// peers to dial after a restart. A supernode that stops while the others
// stop too has marked them all down by then; they are still the ones it
// should find again.
func (n *Node) KnownSupernodes(limit int) []peer.AddrInfo {
	now := n.clock.Now()
	var out []peer.AddrInfo
	for _, m := range n.view.Members() {
		if len(out) >= limit {
			break
		}
		if m.ID == n.host.ID() || !m.Verified || m.Leaving || !m.Expires.After(now) {
			continue
		}
		out = append(out, peer.AddrInfo{ID: m.ID, Addrs: m.Addrs})
	}
	return out
}

// learn opens sessions, in the background, with supernodes a leaf reported
// that are not in the view: supernodes that lost each other (several
// elected at once, a partition) merge back into one overlay. Each peer is
// tried at most once a minute.
func (n *Node) learn(ps []peer.AddrInfo) {
	now := n.clock.Now()
	var todo []peer.AddrInfo
	n.mu.Lock()
	if n.tried == nil {
		n.tried = make(map[peer.ID]time.Time)
	}
	for p, t := range n.tried {
		if now.Sub(t) > time.Minute {
			delete(n.tried, p)
		}
	}
	for _, ai := range ps {
		if ai.ID == n.host.ID() {
			continue
		}
		if m, ok := n.view.Get(ai.ID); ok && m.Verified && !m.Down {
			continue
		}
		if _, ok := n.tried[ai.ID]; ok || len(n.tried) >= maxTried {
			continue
		}
		n.tried[ai.ID] = now
		todo = append(todo, ai)
	}
	n.mu.Unlock()
	if len(todo) > 0 {
		n.goBackground(func(ctx context.Context) { _ = n.Connect(ctx, todo) })
	}
}

// maxTried bounds the peers learn remembers trying.
const maxTried = 1024
