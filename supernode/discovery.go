package supernode

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// rendezvousLoop provides protocol.SupernodeRendezvous in the DHT so that a
// peer knowing any supernode (or a stock kad-dht client) can find others.
func (n *Node) rendezvousLoop() {
	defer n.wg.Done()
	retry := time.Second
	for {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		err := n.dht.Provide(ctx, protocol.SupernodeRendezvous, true)
		cancel()
		wait := n.cfg.RendezvousInterval
		if err != nil {
			// Alone, or the routing table is still empty: try again soon.
			wait, retry = retry, min(2*retry, n.cfg.RendezvousInterval)
		} else {
			retry = time.Second
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// Supernodes lists up to limit known supernodes, this one first, then the
// routing table (only DHT servers, i.e. supernodes, enter it), then any
// provider of the rendezvous key this node stores.
func (n *Node) Supernodes(limit int) []peer.AddrInfo {
	out := []peer.AddrInfo{n.AddrInfo()}
	seen := map[peer.ID]bool{n.host.ID(): true}
	add := func(ai peer.AddrInfo) {
		if len(out) >= limit || seen[ai.ID] || len(ai.Addrs) == 0 {
			return
		}
		seen[ai.ID] = true
		out = append(out, ai)
	}
	for _, p := range n.dht.RoutingTable().ListPeers() {
		add(n.host.Peerstore().PeerInfo(p))
	}
	if provs, err := n.dht.ProviderStore().GetProviders(n.ctx, protocol.SupernodeRendezvous.Hash()); err == nil {
		for _, ai := range provs {
			add(ai)
		}
	}
	return out
}

// learn connects, in the background, to supernodes a leaf reported that
// this one does not have in its routing table: supernodes that lost each
// other (several elected at once after a mass failure, a partition) merge
// back into one DHT. Each peer is tried at most once a minute.
func (n *Node) learn(ps []*pb.Peer) {
	if len(ps) == 0 {
		return
	}
	now := n.now()
	var todo []peer.AddrInfo
	n.mu.Lock()
	if n.tried == nil {
		n.tried = make(map[peer.ID]time.Time)
	}
	for _, p := range ps {
		ai, err := n.cfg.Limits.PeerFromPB(p)
		if err != nil || ai.ID == n.host.ID() || n.dht.RoutingTable().Find(ai.ID) != "" {
			continue
		}
		if now.Sub(n.tried[ai.ID]) < time.Minute {
			continue
		}
		n.tried[ai.ID] = now
		todo = append(todo, ai)
	}
	if len(todo) == 0 || n.closed || n.learning {
		n.mu.Unlock()
		return
	}
	n.learning = true
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
		defer cancel()
		_ = n.Connect(ctx, todo)
		n.mu.Lock()
		n.learning = false
		for p, t := range n.tried {
			if now.Sub(t) > time.Minute {
				delete(n.tried, p)
			}
		}
		n.mu.Unlock()
	}()
}

// hostCacheSample is how many attached leaves a discovery reply carries.
const hostCacheSample = 16

// samplePeers returns up to k attached leaves other than exclude, with the
// addresses the peerstore has for them.
func (n *Node) samplePeers(exclude peer.ID, k int) []peer.AddrInfo {
	leaves := n.sess.list()
	rand.Shuffle(len(leaves), func(i, j int) { leaves[i], leaves[j] = leaves[j], leaves[i] })
	var out []peer.AddrInfo
	for _, p := range leaves {
		if len(out) == k {
			break
		}
		if p == exclude {
			continue
		}
		if ai := n.host.Peerstore().PeerInfo(p); len(ai.Addrs) > 0 {
			out = append(out, ai)
		}
	}
	return out
}
