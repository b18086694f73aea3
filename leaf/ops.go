package leaf

import (
	"context"
	"errors"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/protocol"
)

// retryable reports whether a request failure means "this supernode is
// gone or leaving" (fail over and retry) rather than "the request is bad".
func retryable(err error) bool {
	switch {
	case errors.Is(err, protocol.ErrBadRequest), errors.Is(err, protocol.ErrRefused),
		errors.Is(err, protocol.ErrRateLimited), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrClosed):
		return false
	}
	return true
}

// viaPrimary runs f against the primary (or the local supernode), failing
// over and retrying while the failure is the supernode's and ctx allows.
func (a *Agent) viaPrimary(ctx context.Context, f func(context.Context, route) error) error {
	for {
		r, err := a.waitPrimary(ctx)
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
		err = f(rctx, r)
		cancel()
		p, remote := r.(*snClient)
		if err == nil || !retryable(err) || ctx.Err() != nil || !remote {
			return err
		}
		if errors.Is(err, protocol.ErrNotAttached) {
			if aerr := a.attach(p, true); aerr == nil {
				continue
			}
		}
		a.dropPrimary(p, err)
	}
}

// send signs and sends announcements (or withdrawals) of cids in batches of
// at most Limits.MaxCIDsPerAnnouncement.
func (a *Agent) send(ctx context.Context, cids []cid.Cid, withdraw bool) (AnnounceResult, error) {
	a.sendMu.Lock()
	defer a.sendMu.Unlock()
	res := AnnounceResult{Replicas: -1}
	per := a.cfg.Limits.MaxCIDsPerAnnouncement
	for len(cids) > 0 {
		batch := cids[:min(per, len(cids))]
		cids = cids[len(batch):]
		err := a.viaPrimary(ctx, func(ctx context.Context, r route) error {
			env, err := a.sign(batch, withdraw)
			if err != nil {
				return err
			}
			resp, err := r.announce(ctx, env, protocol.CIDsToBytes(batch))
			if err != nil {
				return err
			}
			counts, target, err := a.countReplicas(env, len(batch), resp)
			if err != nil {
				return err
			}
			res.Accepted += len(batch)
			res.Target = max(res.Target, target)
			for _, c := range counts {
				if res.Replicas < 0 || c < res.Replicas {
					res.Replicas = c
				}
				if c < target {
					res.UnderReplicated++
				}
			}
			return nil
		})
		if err != nil {
			return res, err
		}
	}
	if !withdraw {
		a.mu.Lock()
		a.lastRefresh = a.now()
		a.mu.Unlock()
	}
	res.Replicas = max0(res.Replicas)
	return res, nil
}

func max0(x int) int {
	if x < 0 {
		return 0
	}
	return x
}

func (a *Agent) sign(cids []cid.Cid, withdraw bool) ([]byte, error) {
	now := a.now()
	a.mu.Lock()
	seq := max(a.lastSeq+1, uint64(now.UnixNano()))
	a.lastSeq = seq
	ttl := a.ttl
	a.mu.Unlock()
	ann := &protocol.Announcement{
		Peer:     a.host.ID(),
		Addrs:    a.announceAddrs(),
		Seq:      seq,
		Expires:  now.Add(ttl),
		Withdraw: withdraw,
	}
	return a.cfg.Limits.SignAnnouncement(ann, cids, a.host.Peerstore().PrivKey(a.host.ID()))
}

// announceAddrs are the host's dialable addresses and, behind a NAT, its
// /p2p-circuit addresses through its supernodes (relay.go), at most the
// limit; the circuit addresses are never cut for direct ones.
func (a *Agent) announceAddrs() []ma.Multiaddr {
	circuits := a.relay.addrs(a.Supernodes())
	circuits = circuits[:min(len(circuits), a.cfg.Limits.MaxAddrsPerPeer)]
	var out []ma.Multiaddr
	for _, ad := range a.host.Addrs() {
		if len(out) >= a.cfg.Limits.MaxAddrsPerPeer-len(circuits) {
			break
		}
		if manet.IsIPUnspecified(ad) {
			continue
		}
		out = append(out, ad)
	}
	return append(out, circuits...)
}

// Lookup asks the primary for holders of c (limit 0: the protocol maximum).
func (a *Agent) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	if limit <= 0 || limit > a.cfg.Limits.MaxLookupResults {
		limit = a.cfg.Limits.MaxLookupResults
	}
	var out []peer.AddrInfo
	err := a.viaPrimary(ctx, func(ctx context.Context, r route) error {
		hs, err := r.lookup(ctx, c, limit)
		if err != nil {
			return err
		}
		out = a.verifyHolders(c, hs)
		return nil
	})
	if err == nil {
		a.noteSeen(out)
	}
	return out, err
}

// Supernodes returns the attached supernodes, primary first.
func (a *Agent) Supernodes() []peer.AddrInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []peer.AddrInfo
	if a.primary != nil {
		out = append(out, a.primary.info)
	}
	for _, b := range a.backups {
		out = append(out, b.info)
	}
	return out
}

// Primary returns the primary supernode's ID ("" if none).
func (a *Agent) Primary() peer.ID {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.primary == nil {
		return ""
	}
	return a.primary.info.ID
}

// Failovers counts how often the agent lost its primary.
func (a *Agent) Failovers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failovers
}

// SupernodeLoad is what one attached supernode last reported.
type SupernodeLoad struct {
	Peer       peer.ID
	Primary    bool
	RTT        time.Duration
	Leaves     int
	MaxLeaves  int
	Rho        float64
	Supernodes int
}

// Loads returns the load reports of the attached supernodes, primary first
// (the election's demand signal).
func (a *Agent) Loads() []SupernodeLoad {
	a.mu.Lock()
	all := append([]*snClient{}, a.backups...)
	if a.primary != nil {
		all = append([]*snClient{a.primary}, all...)
	}
	hasPrimary := a.primary != nil
	a.mu.Unlock()
	out := make([]SupernodeLoad, 0, len(all))
	for i, c := range all {
		l := c.lastLoad()
		out = append(out, SupernodeLoad{Peer: c.info.ID, Primary: hasPrimary && i == 0, RTT: c.rtt,
			Leaves: int(l.GetLeaves()), MaxLeaves: int(l.GetMaxLeaves()), Rho: l.GetRho(), Supernodes: int(l.GetSupernodes())})
	}
	return out
}

// AddSupernodes adds supernodes to the known set (e.g. from a hand-over).
func (a *Agent) AddSupernodes(ps ...peer.AddrInfo) {
	a.mu.Lock()
	for _, p := range ps {
		if p.ID != a.host.ID() {
			a.known[p.ID] = p
		}
	}
	a.mu.Unlock()
	a.poke()
}

// RecordTTL is the record lifetime the overlay uses (learned from the
// primary supernode, or the local one), which sets the refresh interval.
func (a *Agent) RecordTTL() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ttl
}

// Traffic returns the agent's traffic counts by kind.
func (a *Agent) Traffic() map[string]protocol.Counts { return a.cfg.Meter.Snapshot() }

// Host returns the libp2p host.
func (a *Agent) Host() host.Host { return a.host }
