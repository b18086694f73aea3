package runner

import (
	"context"
	"slices"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/supernode"
)

// APIBackend serves the HTTP API for a node that elects its role: the
// status of whichever role it has now plus the election, and the agent's
// announce and lookup (through the local supernode while it is one).
type APIBackend struct {
	Runner  *Runner
	Started time.Time
	// Bandwidth, if set, adds libp2p's per-protocol byte counts to status.
	Bandwidth metrics.Reporter
}

var _ httpapi.Backend = (*APIBackend)(nil)

// API returns the runner's HTTP API backend.
func (r *Runner) API(started time.Time, bw metrics.Reporter) *APIBackend {
	return &APIBackend{Runner: r, Started: started, Bandwidth: bw}
}

// Status reports the current role's status and the election.
func (b *APIBackend) Status(ctx context.Context) (*httpapi.Status, error) {
	leafStatus := &leaf.APIBackend{Agent: b.Runner.agent, Started: b.Started, Bandwidth: b.Bandwidth}
	s, err := leafStatus.Status(ctx)
	if err != nil {
		return nil, err
	}
	if sn := b.Runner.Supernode(); sn != nil {
		ss, err := (&supernode.APIBackend{Node: sn, Started: b.Started, Bandwidth: b.Bandwidth}).Status(ctx)
		if err != nil {
			return nil, err
		}
		ss.Objects, ss.Traffic = s.Objects, s.Traffic // one meter for the whole node
		s = ss
	}
	s.Election = b.Runner.electionStatus()
	return s, nil
}

func (r *Runner) electionStatus() *httpapi.ElectionStatus {
	s := &httpapi.ElectionStatus{Status: r.Status()}
	if sn := r.Supernode(); sn != nil {
		for _, p := range sn.DHT().RoutingTable().ListPeers() {
			s.DHTPeers = append(s.DHTPeers, p.String())
		}
		slices.Sort(s.DHTPeers)
	}
	return s
}

// Announce announces through the agent.
func (b *APIBackend) Announce(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	return (&leaf.APIBackend{Agent: b.Runner.agent}).Announce(ctx, cids)
}

// Withdraw withdraws through the agent.
func (b *APIBackend) Withdraw(ctx context.Context, cids []cid.Cid) (*httpapi.AnnounceResponse, error) {
	return (&leaf.APIBackend{Agent: b.Runner.agent}).Withdraw(ctx, cids)
}

// Objects lists the agent's announced set.
func (b *APIBackend) Objects(ctx context.Context) ([]cid.Cid, error) {
	return b.Runner.agent.Objects(), nil
}

// Lookup looks up through the agent.
func (b *APIBackend) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	return b.Runner.agent.Lookup(ctx, c, limit)
}
