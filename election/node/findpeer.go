package node

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/supertracker/supertracker/protocol/httpapi"
)

var _ httpapi.PeerFinder = (*instrumented)(nil)

// FindPeer serves /routing/v1/peers/{peer-id} for other peers than the
// node itself: a supernode asks its DHT (the supernodes), a leaf answers
// from the addresses its host knows (its supernodes, holders it looked up).
func (b *instrumented) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	if sn := b.v.supernode(); sn != nil {
		return sn.findPeer(ctx, id)
	}
	if a := b.v.agent(); a != nil {
		if addrs := a.Host().Peerstore().Addrs(id); len(addrs) > 0 {
			return peer.AddrInfo{ID: id, Addrs: addrs}, nil
		}
	}
	return peer.AddrInfo{}, routing.ErrNotFound
}
