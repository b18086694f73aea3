package supernode

import (
	"context"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Lookup returns up to limit leaves holding c (limit 0: Limits.MaxLookupResults)
// with one DHT query: kad-dht's FindProvidersAsync, which answers from this
// supernode's own provider store first and then from the closest
// supernodes'. Records withdrawn through this supernode are left out.
func (n *Node) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	if limit <= 0 || limit > n.cfg.Limits.MaxLookupResults {
		limit = n.cfg.Limits.MaxLookupResults
	}
	now := n.now()
	var out []peer.AddrInfo
	for ai := range n.dht.FindProvidersAsync(ctx, c, limit) {
		if n.index.withdrawn(ai.ID, c, now) || len(ai.Addrs) == 0 {
			continue
		}
		out = append(out, ai)
	}
	if err := ctx.Err(); err != nil && len(out) == 0 {
		return nil, err
	}
	return out, nil
}
