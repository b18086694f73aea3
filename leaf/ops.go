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
	"github.com/supertracker/supertracker/protocol/traffic"
)

// AnnounceResult reports what the overlay accepted, as the agent counted it
// from the replicas' signed receipts.
type AnnounceResult struct {
	Accepted        int // CIDs accepted
	Replicas        int // fewest replicas any CID reached
	Target          int // replicas each CID should have (r, or fewer supernodes)
	UnderReplicated int // CIDs below Target (the supernode keeps repairing them)
}

// Announce adds cids to the announced set (durably, when there is a data
// dir) and announces them through the primary; it returns once the overlay
// accepted them. The agent refreshes them until Withdraw. With no supernode
// attached it fails within AttachWait with a NoSupernodeError; the CIDs
// stay in the announced set, and a refresh announces them a few heartbeat
// intervals later (as soon as a primary is attached).
func (a *Agent) Announce(ctx context.Context, cids []cid.Cid) (AnnounceResult, error) {
	envs, err := a.change(cids, false)
	if err != nil {
		return AnnounceResult{}, err
	}
	res, err := a.sendEnvelopes(ctx, envs)
	if err != nil && (faultOf(err) != faultOurs || errors.Is(err, ErrNoSupernode)) {
		a.announceFailed() // the CIDs are in the set: a refresh retries them
	}
	return res, err
}

// Withdraw removes cids from the announced set and tells the overlay. The
// records stop being returned by lookups through supernodes that saw the
// withdrawal at once, and age out of the DHT within the record TTL.
func (a *Agent) Withdraw(ctx context.Context, cids []cid.Cid) (AnnounceResult, error) {
	envs, err := a.change(cids, true)
	if err != nil {
		return AnnounceResult{}, err
	}
	return a.sendEnvelopes(ctx, envs)
}

// change updates the announced set durably and signs the envelopes that
// tell the overlay, in one step, so sequence numbers follow the order of
// changes.
func (a *Agent) change(cids []cid.Cid, withdraw bool) ([]signedBatch, error) {
	a.objMu.Lock()
	defer a.objMu.Unlock()
	a.mu.Lock()
	next := make(map[cid.Cid]struct{}, len(a.objects)+len(cids))
	for c := range a.objects {
		next[c] = struct{}{}
	}
	a.mu.Unlock()
	for _, c := range cids {
		if withdraw {
			delete(next, c)
		} else {
			next[c] = struct{}{}
		}
	}
	if err := saveObjects(a.cfg.DataDir, next); err != nil {
		return nil, err
	}
	a.mu.Lock()
	first := len(a.objects) == 0 && len(next) > 0
	a.objects = next
	if first {
		// The refresh clock starts with the set (signed from now on), and
		// the maintenance loop, paced for an empty set, learns of it.
		a.lastRefresh = a.clock.Now()
	}
	a.mu.Unlock()
	if first {
		a.poke()
	}
	return a.signBatches(cids, withdraw)
}

// signAll signs announcements of the whole announced set (a refresh).
func (a *Agent) signAll() ([]signedBatch, int, error) {
	a.objMu.Lock()
	defer a.objMu.Unlock()
	a.mu.Lock()
	cids := make([]cid.Cid, 0, len(a.objects))
	for c := range a.objects {
		cids = append(cids, c)
	}
	a.mu.Unlock()
	envs, err := a.signBatches(cids, false)
	return envs, len(cids), err
}

// signedBatch is a signed announcement (or withdrawal) and the CIDs its
// root covers, in order.
type signedBatch struct {
	envelope []byte
	cids     []cid.Cid
}

// signBatches signs cids in batches of at most Limits.MaxCIDsPerAnnouncement.
func (a *Agent) signBatches(cids []cid.Cid, withdraw bool) ([]signedBatch, error) {
	var out []signedBatch
	for len(cids) > 0 {
		batch := cids[:min(a.cfg.Limits.MaxCIDsPerAnnouncement, len(cids))]
		cids = cids[len(batch):]
		env, err := a.sign(batch, withdraw)
		if err != nil {
			return nil, err
		}
		out = append(out, signedBatch{envelope: env, cids: batch})
	}
	return out, nil
}

func (a *Agent) sign(cids []cid.Cid, withdraw bool) ([]byte, error) {
	now := a.clock.Now()
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

// sendEnvelopes sends signed batches one after another and counts the
// replicas from their receipts. A retry on another supernode resends the
// same envelope: replicas dedupe it by its sequence number.
func (a *Agent) sendEnvelopes(ctx context.Context, batches []signedBatch) (AnnounceResult, error) {
	res := AnnounceResult{Replicas: -1}
	for _, b := range batches {
		type counted struct {
			counts []int
			target int
		}
		c, err := exchange(a, ctx, "announce", false, func(ctx context.Context, r route) (counted, error) {
			resp, err := r.announce(ctx, b.envelope, protocol.CIDsToBytes(b.cids))
			if err != nil {
				return counted{}, err
			}
			counts, target, err := a.countReplicas(b.envelope, len(b.cids), resp)
			return counted{counts, target}, err
		})
		if err != nil {
			res.Replicas = max(res.Replicas, 0)
			return res, err
		}
		res.Accepted += len(b.cids)
		res.Target = max(res.Target, c.target)
		for _, n := range c.counts {
			if res.Replicas < 0 || n < res.Replicas {
				res.Replicas = n
			}
			if n < c.target {
				res.UnderReplicated++
			}
		}
	}
	res.Replicas = max(res.Replicas, 0)
	return res, nil
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

// Lookup asks the primary for holders of c (limit 0: the protocol maximum),
// and a backup too when the primary is slow to answer (see exchange).
func (a *Agent) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	if limit <= 0 || limit > a.cfg.Limits.MaxLookupResults {
		limit = a.cfg.Limits.MaxLookupResults
	}
	out, err := exchange(a, ctx, "lookup", true, func(ctx context.Context, r route) ([]peer.AddrInfo, error) {
		hs, err := r.lookup(ctx, c, limit)
		if err != nil {
			return nil, err
		}
		return a.verifyHolders(c, hs), nil
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
	for _, s := range a.attachedLocked() {
		out = append(out, s.info)
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
	all, primary := a.attachedLocked(), a.primary
	a.mu.Unlock()
	out := make([]SupernodeLoad, 0, len(all))
	for _, s := range all {
		l := s.lastLoad()
		out = append(out, SupernodeLoad{Peer: s.info.ID, Primary: s == primary, RTT: s.rtt,
			Leaves: int(l.GetLeaves()), MaxLeaves: int(l.GetMaxLeaves()), Rho: l.GetRho(), Supernodes: int(l.GetSupernodes())})
	}
	return out
}

// RecordTTL is the record lifetime the overlay uses (learned from the
// primary supernode, or the local one), which sets the refresh interval.
func (a *Agent) RecordTTL() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ttl
}

// Traffic returns the agent's traffic counts by kind.
func (a *Agent) Traffic() map[string]traffic.Counts { return a.cfg.Meter.Snapshot() }

// Host returns the libp2p host.
func (a *Agent) Host() host.Host { return a.host }
