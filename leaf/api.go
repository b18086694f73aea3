package leaf

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// APIBackend serves the local HTTP API (package httpapi) from an Agent.
type APIBackend struct {
	Agent   *Agent
	Started time.Time
	// Bandwidth, if set, adds libp2p's per-protocol byte counts to status.
	Bandwidth metrics.Reporter
}

var _ httpapi.Backend = (*APIBackend)(nil)

// Status reports the leaf's identity and its attached supernodes.
func (b *APIBackend) Status(context.Context) (*httpapi.Status, error) {
	a := b.Agent
	s := &httpapi.Status{
		Role:          httpapi.RoleLeaf,
		PeerID:        a.host.ID().String(),
		Addrs:         httpapi.FullAddrs(peer.AddrInfo{ID: a.host.ID(), Addrs: a.announceAddrs()}),
		Supernodes:    []string{},
		Objects:       len(a.Objects()),
		UptimeSeconds: a.clock.Since(b.Started).Seconds(),
		Traffic:       traffic.Status(a.Traffic(), b.Bandwidth),
	}
	s.Relay = relayStatus(a.Relay())
	for _, sn := range a.Supernodes() {
		if full := httpapi.FullAddrs(peer.AddrInfo{ID: sn.ID, Addrs: sn.Addrs[:min(1, len(sn.Addrs))]}); len(full) > 0 {
			s.Supernodes = append(s.Supernodes, full[0])
		}
	}
	return s, nil
}

// Announce announces cids through the primary supernode.
func (b *APIBackend) Announce(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	r, err := b.Agent.Announce(ctx, cids)
	return &httpapi.AnnounceResponse{Accepted: r.Accepted, Replicas: r.Replicas}, err
}

// Withdraw withdraws cids.
func (b *APIBackend) Withdraw(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	r, err := b.Agent.Withdraw(ctx, cids)
	return &httpapi.AnnounceResponse{Accepted: r.Accepted, Replicas: r.Replicas}, err
}

// Objects lists the announced set.
func (b *APIBackend) Objects(context.Context) ([]cid.Cid, error) { return b.Agent.Objects(), nil }

// Lookup finds holders through the primary supernode.
func (b *APIBackend) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	return b.Agent.Lookup(ctx, c, limit)
}
