package runner

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
)

// How nodes that know no supernode find each other (a cold start: nodes
// started together, a whole overlay restarted, every supernode lost):
//
//   - the peers a node met are its discovery sources: the supernodes its
//     agent knows and the peers it saw (Agent.Seen), every peer connected
//     to its host (a node nobody was told about still gets dialled by the
//     ones that were told about it), the candidates it heard of, and last
//     any other peer its peerstore has addresses for;
//   - it asks a sample of them, by load probe, for their load (a supernode
//     answers with one), the supernodes they know (X-Try-Ultrapeers) and
//     the pending promotions they know of (candidacies: their own, and the
//     ones they heard of, relayed hop by hop; a candidacy carries its age,
//     which every relay keeps counting, so it dies ReportTTL after the
//     candidate last said so and cannot circulate);
//   - a leaf attaches to the supernodes found; a supernode connects its
//     DHT to them, so supernodes that promoted apart merge into one DHT;
//   - candidacies go to the election as Candidate observations: a leaf of
//     an empty overlay waits for a candidate ranked above it.

// maxMet bounds the peers met that discovery samples from; discoverSample
// is how many one round asks.
const (
	maxMet         = 256
	discoverSample = 6
	discoverWait   = 2 * time.Second // per peer asked
)

// heardCandidate is a pending promotion heard of.
type heardCandidate struct {
	info  peer.AddrInfo
	score float64
	at    time.Time // when the candidate itself said so (now − relayed age)
}

// met lists the peers this node met, candidates heard of first, at most
// maxMet, each with addresses, never itself.
func (r *Runner) met() []peer.AddrInfo {
	self := r.host.ID()
	seen := map[peer.ID]bool{self: true}
	var out []peer.AddrInfo
	add := func(ai peer.AddrInfo) {
		if len(out) < maxMet && !seen[ai.ID] && len(ai.Addrs) > 0 {
			seen[ai.ID] = true
			out = append(out, ai)
		}
	}
	for _, c := range r.freshCandidates() {
		add(c.info)
	}
	for _, ai := range r.agent.Seen() {
		add(ai)
	}
	for _, p := range r.host.Network().Peers() {
		add(r.host.Peerstore().PeerInfo(p))
	}
	// Last, every peer with addresses in the peerstore: a leaf that lost
	// every supernode and whose peers met are gone too is otherwise left
	// with nobody to ask (seen once: a capped leaf with no primary for
	// 2.5 min while two new supernodes served everyone else).
	ps := r.host.Peerstore().PeersWithAddrs()
	rand.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
	for _, p := range ps {
		add(r.host.Peerstore().PeerInfo(p))
	}
	return out
}

// freshCandidates returns the candidacies heard of that are younger than
// ReportTTL, highest-ranked first, and forgets the stale ones.
func (r *Runner) freshCandidates() []heardCandidate {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []heardCandidate
	for id, c := range r.heard {
		if now.Sub(c.at) > r.cfg.Election.ReportTTL {
			delete(r.heard, id)
			continue
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b heardCandidate) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return -strings.Compare(string(a.info.ID), string(b.info.ID))
	})
	return out
}

// candidacies answers load probes: this node's own candidacy first (a leaf
// with a promotion pending), then the highest-ranked fresh ones it heard
// of, each with its age.
func (r *Runner) candidacies() []probe.Candidacy {
	var out []probe.Candidacy
	if st := r.Status(); st.Candidate {
		out = append(out, probe.Candidacy{Peer: peer.AddrInfo{ID: r.host.ID(), Addrs: r.host.Addrs()}, Score: st.Score})
	}
	now := time.Now()
	for _, c := range r.freshCandidates() {
		if len(out) == protocol.MaxCandidates {
			break
		}
		out = append(out, probe.Candidacy{Peer: c.info, Score: c.score, Age: max(now.Sub(c.at), 0)})
	}
	return out
}

// discover asks a sample of the peers met — candidates first — for their
// load, the supernodes they know and the candidacies they know of, one
// round at a time, in the background. Supernodes found are handed to the
// agent and, while this node is a supernode (sn non-nil), joined in the
// DHT; candidacies go to the election.
func (r *Runner) discover(sn *supernode.Node) {
	if !r.asking.CompareAndSwap(false, true) {
		return // one round at a time
	}
	met := r.met()
	nCand := len(r.freshCandidates())
	rest := met[min(nCand, len(met)):]
	rand.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	ask := met[:min(discoverSample, len(met))]
	r.background(func(ctx context.Context) func() {
		defer r.asking.Store(false)
		found, heard := r.ask(ctx, ask)
		if len(found) > 0 {
			r.agent.AddSupernodes(found...)
		}
		if sn != nil {
			// Every supernode among the peers asked answered with its
			// load, so found holds them all, and the ones they know.
			var join []peer.AddrInfo
			rt := sn.DHT().RoutingTable()
			for _, ai := range found {
				if ai.ID != r.host.ID() && rt.Find(ai.ID) == "" {
					join = append(join, ai)
				}
			}
			if len(join) > 0 {
				_ = sn.Connect(ctx, join) // DHT servers enter the routing table on both sides
			}
		}
		return func() {
			for _, c := range heard {
				r.step(election.Candidate{From: c.info.ID.String(), Score: c.score, At: c.at})
			}
		}
	})
}

// ask queries peers in parallel (discoverWait each) and records what they
// said: the supernodes among them and those they know, and candidacies.
func (r *Runner) ask(ctx context.Context, peers []peer.AddrInfo) (found []peer.AddrInfo, heard []heardCandidate) {
	type answer struct {
		from peer.AddrInfo
		a    probe.Answer
		at   time.Time
	}
	answers := make([]*answer, len(peers))
	done := make(chan struct{})
	for i, p := range peers {
		go func() {
			defer func() { done <- struct{}{} }()
			qctx, cancel := context.WithTimeout(ctx, discoverWait)
			defer cancel()
			a, err := probe.Query(qctx, r.host, p.ID, r.cfg.Supernode.Limits)
			if err != nil {
				r.cfg.Logger.Debug("discovery probe failed", "peer", p.ID, "err", err)
				return
			}
			answers[i] = &answer{from: p, a: a, at: time.Now()}
		}()
	}
	for range peers {
		<-done
	}
	self := r.host.ID()
	for _, x := range answers {
		if x == nil {
			continue
		}
		if x.a.Load != nil { // a supernode itself
			found = append(found, x.from)
		}
		for _, s := range x.a.Supernodes {
			if s.ID != self {
				found = append(found, s)
			}
		}
		for _, c := range x.a.Candidates {
			if c.Peer.ID == self {
				continue
			}
			info := c.Peer
			if len(info.Addrs) == 0 && c.Peer.ID == x.from.ID {
				info = x.from
			}
			heard = append(heard, heardCandidate{info: info, score: c.Score, at: x.at.Add(-c.Age)})
		}
	}
	if len(heard) > 0 {
		r.mu.Lock()
		if r.heard == nil {
			r.heard = make(map[peer.ID]heardCandidate)
		}
		for _, c := range heard {
			if old, ok := r.heard[c.info.ID]; !ok || c.at.After(old.at) {
				r.heard[c.info.ID] = c
			}
		}
		r.mu.Unlock()
	}
	if len(found) > 0 {
		r.cfg.Logger.Debug("supernodes learned from peers met", "count", len(found))
	}
	return found, heard
}

// findSupernodes asks the peers met which supernodes they know, before a
// promotion: a node that promotes joins the supernodes that exist rather
// than starting a DHT of its own.
func (r *Runner) findSupernodes(ctx context.Context) []peer.AddrInfo {
	met := r.met()
	rand.Shuffle(len(met), func(i, j int) { met[i], met[j] = met[j], met[i] })
	found, _ := r.ask(ctx, met[:min(2*discoverSample, len(met))])
	return found
}
