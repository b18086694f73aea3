package supernode

import (
	"context"
	"time"

	dhtpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

// kad-dht stays stock; this hook (kad-dht calls it with the decoded request
// before it picks the handler) makes it serve only verified records:
//   - ADD_PROVIDER from anyone is neutralised (its provider list cleared,
//     so the stock handler stores nothing and refuses): records enter only
//     through our signed, verified path;
//   - GET_PROVIDERS first copies the live holders of the key, found as our
//     own lookups find them (one hop to the key's replicas), into kad-dht's
//     provider store, where the stock handler finds them: a stock kad-dht
//     client sees exactly what our lookups see, from whichever supernode it
//     asks, and never a record only a supernode outside the replica set
//     holds (a withdrawn announcement replayed there). A copy lives
//     MirrorTTL there, so a withdrawn or expired record can outlive its end
//     for stock clients by at most MirrorTTL. The stock handler answers
//     with the peerstore's addresses of a provider, so a leaf's are reset
//     to the ones it signed (addresses others named for it never reach a
//     stock client). A peer over its request budget is refused;
//   - GET_PROVIDERS for the supernode rendezvous key is answered with the
//     verified members of the view.

// onKadRequest is the kad-dht OnRequestHook.
func (n *Node) onKadRequest(_ context.Context, s network.Stream, req *dhtpb.Message) {
	n.load.observe(0, n.clock.Now()) // DHT RPCs count towards the arrival rate
	n.cfg.Meter.In("kad/"+req.GetType().String(), 0)
	switch req.GetType() {
	case dhtpb.Message_ADD_PROVIDER:
		req.ProviderPeers = nil
		n.kadRefused.Add(1)
	case dhtpb.Message_GET_PROVIDERS:
		if !n.lim.allow(s.Conn().RemotePeer(), n.clock.Now()) {
			req.Key = nil // over its budget: kad-dht refuses a request without a key
			return
		}
		n.mirror(req.GetKey())
	}
}

// mirror copies the live holders of key into kad-dht's provider store.
func (n *Node) mirror(key []byte) {
	if len(key) == 0 || len(key) > n.cfg.Limits.MaxCIDSize {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, mirrorTimeout)
	defer cancel()
	ps := n.dht.ProviderStore()
	if string(key) == string(protocol.SupernodeRendezvous.Hash()) {
		now := n.clock.Now()
		for _, p := range n.view.Snapshot().IDs(now) {
			if m, ok := n.view.Get(p); ok {
				_ = ps.AddProvider(ctx, key, peer.AddrInfo{ID: p, Addrs: m.Addrs})
			}
		}
		return
	}
	hs, err := n.LookupHolders(ctx, key, n.cfg.Limits.MaxLookupResults)
	if err != nil {
		return
	}
	now := n.clock.Now()
	for _, h := range hs {
		a, err := n.openAnnouncement(h.GetAnnouncement(), now)
		if err != nil {
			continue
		}
		if a.Peer == n.host.ID() {
			// kad-dht serves the local peer's records with the peerstore's
			// addresses: keep ours there.
			n.host.Peerstore().AddAddrs(a.Peer, a.Addrs, n.cfg.MirrorTTL)
		} else if _, member := n.view.Get(a.Peer); !member {
			// A leaf: kad-dht serves the peerstore's addresses for it, where
			// gossip from other peers may have put any (we never dial a
			// leaf); AddProvider puts back the ones it signed.
			n.host.Peerstore().ClearAddrs(a.Peer)
		}
		_ = ps.AddProvider(ctx, key, peer.AddrInfo{ID: a.Peer, Addrs: a.Addrs})
	}
}

// mirrorTimeout bounds the one-hop lookup behind a stock client's
// GET_PROVIDERS.
const mirrorTimeout = 2 * time.Second
