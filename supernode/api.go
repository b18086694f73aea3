package supernode

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// APIBackend serves the HTTP API (package httpapi) from a supernode: status
// and lookups; a supernode announces nothing of its own.
type APIBackend struct {
	Node    *Node
	Started time.Time
	// Bandwidth, if set, adds libp2p's per-protocol byte counts to status.
	Bandwidth metrics.Reporter
}

var _ httpapi.Backend = (*APIBackend)(nil)

// Status reports the supernode's identity and load.
func (b *APIBackend) Status(context.Context) (*httpapi.Status, error) {
	n := b.Node
	st := n.Stats()
	return &httpapi.Status{
		Role:          httpapi.RoleSupernode,
		PeerID:        n.host.ID().String(),
		Addrs:         httpapi.FullAddrs(n.AddrInfo()),
		Leaves:        &st.Leaves,
		MaxLeaves:     st.MaxLeaves,
		RoutingTable:  &st.Members,
		Rho:           &st.Rho,
		ReqPerSec:     &st.Arrival,
		Traffic:       traffic.Status(n.Traffic(), b.Bandwidth),
		Records:       &st.Records,
		UptimeSeconds: time.Since(b.Started).Seconds(),
	}, nil
}

// Announce is not served by a supernode.
func (b *APIBackend) Announce(context.Context, []cid.Cid) (*httpapi.AnnounceResponse, error) {
	return nil, httpapi.ErrNotSupported
}

// Withdraw is not served by a supernode.
func (b *APIBackend) Withdraw(context.Context, []cid.Cid) (*httpapi.AnnounceResponse, error) {
	return nil, httpapi.ErrNotSupported
}

// Objects is empty: a supernode announces nothing of its own.
func (b *APIBackend) Objects(context.Context) ([]cid.Cid, error) { return nil, nil }

// Lookup asks the CID's replicas (one hop).
func (b *APIBackend) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, b.Node.cfg.LookupTimeout)
	defer cancel()
	return b.Node.Lookup(ctx, c, limit)
}
