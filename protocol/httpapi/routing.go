package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/routing/http/server"
	"github.com/ipfs/boxo/routing/http/types"
	"github.com/ipfs/boxo/routing/http/types/iter"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// The IPFS Delegated Routing V1 HTTP API (https://specs.ipfs.tech/routing/http-routing-v1/),
// served by boxo's routing/http/server on top of a Backend: what kubo
// (Routing.Type "custom" with an HTTP router), someguy and Helia's
// delegated routing client speak. Read-only: provider and peer lookups.
const (
	PathRoutingPrefix    = "/routing/v1/"
	PathRoutingProviders = "/routing/v1/providers/" // + CID
	PathRoutingPeers     = "/routing/v1/peers/"     // + peer ID
)

// RoutingTimeout bounds one delegated routing request (the overlay lookup
// behind it).
const RoutingTimeout = 30 * time.Second

// PeerFinder is implemented by a Backend that can find other peers'
// addresses (a supernode through its DHT, a leaf from the peers it knows).
// Without it, /routing/v1/peers answers for the node itself only.
type PeerFinder interface {
	FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error)
}

// routingHandler serves GET /routing/v1/providers/{cid} and
// /routing/v1/peers/{peer-id} (JSON, or NDJSON for Accept:
// application/x-ndjson, with the spec's Cache-Control) through boxo's
// server; reg receives its HTTP metrics.
func routingHandler(b Backend, reg prometheus.Registerer) http.Handler {
	if reg == nil {
		reg = prometheus.NewRegistry() // never the global one
	}
	return server.Handler(&delegatedRouter{b: b}, server.WithPrometheusRegistry(reg),
		server.WithRoutingTimeout(RoutingTimeout))
}

// delegatedRouter adapts a Backend to boxo's server.DelegatedRouter.
type delegatedRouter struct{ b Backend }

var _ server.DelegatedRouter = (*delegatedRouter)(nil)

// FindProviders is one overlay lookup: every holder is a "peer" record with
// its ID and addresses (no protocols: the overlay does not say how holders
// serve the object).
func (r *delegatedRouter) FindProviders(ctx context.Context, c cid.Cid, limit int) (iter.ResultIter[types.Record], error) {
	holders, err := r.b.Lookup(ctx, c, limit)
	if err != nil {
		return nil, fmt.Errorf("overlay lookup: %w", err)
	}
	out := make([]types.Record, 0, len(holders))
	for _, h := range holders {
		out = append(out, peerRecord(h))
	}
	return iter.ToResultIter(iter.FromSlice(out)), nil
}

// FindPeers answers for the node itself and, through a PeerFinder, for
// the peers the node can find.
func (r *delegatedRouter) FindPeers(ctx context.Context, id peer.ID, limit int) (iter.ResultIter[*types.PeerRecord], error) {
	st, err := r.b.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.PeerID == id.String() {
		ai := peer.AddrInfo{ID: id}
		for _, s := range st.Addrs {
			if a, err := ma.NewMultiaddr(s); err == nil {
				if info, err := peer.AddrInfoFromP2pAddr(a); err == nil && info.ID == id {
					ai.Addrs = append(ai.Addrs, info.Addrs...)
				}
			}
		}
		return iter.ToResultIter(iter.FromSlice([]*types.PeerRecord{peerRecord(ai)})), nil
	}
	pf, ok := r.b.(PeerFinder)
	if !ok {
		return nil, routing.ErrNotFound
	}
	ai, err := pf.FindPeer(ctx, id)
	if err != nil {
		return nil, err
	}
	if len(ai.Addrs) == 0 {
		return nil, routing.ErrNotFound
	}
	return iter.ToResultIter(iter.FromSlice([]*types.PeerRecord{peerRecord(ai)})), nil
}

func peerRecord(ai peer.AddrInfo) *types.PeerRecord {
	id := ai.ID
	rec := &types.PeerRecord{Schema: types.SchemaPeer, ID: &id, Addrs: make([]types.Multiaddr, 0, len(ai.Addrs))}
	for _, a := range ai.Addrs {
		rec.Addrs = append(rec.Addrs, types.Multiaddr{Multiaddr: a})
	}
	return rec
}

// The overlay stores no IPNS records and takes no writes over this API.

func (r *delegatedRouter) ProvideBitswap(context.Context, *server.BitswapWriteProvideRequest) (time.Duration, error) {
	return 0, routing.ErrNotSupported
}

func (r *delegatedRouter) GetIPNS(context.Context, ipns.Name) (*ipns.Record, error) {
	return nil, routing.ErrNotSupported
}

func (r *delegatedRouter) PutIPNS(context.Context, ipns.Name, *ipns.Record) error {
	return routing.ErrNotSupported
}

func (r *delegatedRouter) GetClosestPeers(context.Context, cid.Cid) (iter.ResultIter[*types.PeerRecord], error) {
	return nil, routing.ErrNotSupported
}
