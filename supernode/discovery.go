package supernode

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
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
