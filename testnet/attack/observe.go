package attack

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// Observer reads what every honest way of looking a CID up returns: each
// honest leaf's Lookup, each honest supernode's Lookup, a stock kad-dht
// client's FindProvidersAsync, and a raw GET_PROVIDERS to each supernode
// (what any kad peer that reaches that supernode is told).
type Observer struct {
	Leaves     []*leaf.Agent
	Supernodes []*supernode.Node
	Stock      *dht.IpfsDHT // nil: skipped
	Raw        host.Host    // sends raw GET_PROVIDERS; nil: skipped
}

// Sighting is what one API returned for a CID.
type Sighting struct {
	API     string
	Holders []peer.AddrInfo
	Err     error
}

// lookupTimeout bounds one observation.
const lookupTimeout = 10 * time.Second

// Look asks every API for c.
func (o *Observer) Look(ctx context.Context, c cid.Cid) []Sighting {
	var out []Sighting
	for i, l := range o.Leaves {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		hs, err := l.Lookup(lctx, c, 0)
		cancel()
		out = append(out, Sighting{API: fmt.Sprintf("leaf%d.Lookup", i), Holders: hs, Err: err})
	}
	for i, sn := range o.Supernodes {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		hs, err := sn.Lookup(lctx, c, 0)
		cancel()
		out = append(out, Sighting{API: fmt.Sprintf("supernode%d.Lookup", i), Holders: hs, Err: err})
	}
	if o.Stock != nil {
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		var hs []peer.AddrInfo
		for ai := range o.Stock.FindProvidersAsync(lctx, c, 0) {
			hs = append(hs, ai)
		}
		cancel()
		out = append(out, Sighting{API: "stock.FindProvidersAsync", Holders: hs})
	}
	if o.Raw != nil {
		for i, sn := range o.Supernodes {
			lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
			hs, err := KadGetProviders(lctx, o.Raw, sn.AddrInfo(), c.Hash())
			cancel()
			out = append(out, Sighting{API: fmt.Sprintf("supernode%d.GET_PROVIDERS", i), Holders: hs, Err: err})
		}
	}
	return out
}

// APIs is how many ways Look asks.
func (o *Observer) APIs() int {
	n := len(o.Leaves) + len(o.Supernodes)
	if o.Stock != nil {
		n++
	}
	if o.Raw != nil {
		n += len(o.Supernodes)
	}
	return n
}

// Showing lists the sightings in which match holds for some holder.
func Showing(ss []Sighting, match func(peer.AddrInfo) bool) []Sighting {
	var out []Sighting
	for _, s := range ss {
		for _, h := range s.Holders {
			if match(h) {
				out = append(out, s)
				break
			}
		}
	}
	return out
}

// IsPeer matches holder p.
func IsPeer(p peer.ID) func(peer.AddrInfo) bool {
	return func(ai peer.AddrInfo) bool { return ai.ID == p }
}

// Names lists the APIs of ss.
func Names(ss []Sighting) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.API
	}
	return out
}
