package supernode

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Lookups take one hop: the supernode reads its own store when it is one of
// the CID's replicas and asks the closest replicas (LookupFanout of them,
// or one when it holds the CID itself) in parallel. It answers as soon as
// it has limit holders, every replica asked has answered, or LookupSettle
// has passed since the first answer; a replica that fails or is slow is
// replaced by the next; if every answer so far was empty the remaining
// replicas are asked before "none" is final. It never walks the DHT.

// Lookup returns up to limit verified holders of c (limit 0:
// Limits.MaxLookupResults).
func (n *Node) Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	hs, err := n.LookupHolders(ctx, c.Hash(), limit)
	if err != nil {
		return nil, err
	}
	now := n.clock.Now()
	out := make([]peer.AddrInfo, 0, len(hs))
	for _, h := range hs {
		v, err := n.verified.OpenHolder(h, c.Hash(), now)
		if err != nil {
			continue
		}
		out = append(out, v.AddrInfo)
	}
	return out, nil
}

type fetched struct {
	from peer.ID
	hs   []*pb.Holder
	err  error
}

// LookupHolders returns up to limit holders of the multihash key in wire
// form (signed announcements with inclusion proofs), newest per leaf.
func (n *Node) LookupHolders(ctx context.Context, key []byte, limit int) ([]*pb.Holder, error) {
	if limit <= 0 || limit > n.cfg.Limits.MaxLookupResults {
		limit = n.cfg.Limits.MaxLookupResults
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the fetches still out
	now := n.clock.Now()
	self := n.host.ID()
	reps := n.view.Snapshot().Replicas(key, n.cfg.ReplicationFactor, now)
	m := newMerge(n, key, limit)
	var remote []peer.ID
	local := false
	for _, p := range reps {
		if p == self {
			local = true
		} else {
			remote = append(remote, p)
		}
	}
	if local || len(reps) == 0 {
		hs, err := n.store.Holders(ctx, key, limit, now)
		if err != nil {
			return nil, err
		}
		m.add(hs, now)
	}
	answers := make(chan fetched, len(remote))
	pending, next := 0, 0
	ask := func(k int) {
		for ; k > 0 && next < len(remote); k-- {
			p := remote[next]
			next++
			pending++
			go func() {
				hs, err := n.fetchFrom(ctx, p, key, limit)
				answers <- fetched{from: p, hs: hs, err: err}
			}()
		}
	}
	first := n.cfg.LookupFanout
	var settle <-chan time.Time
	if local {
		first = 1
		settle = n.clock.After(n.cfg.LookupSettle)
	}
	ask(first)
	hedge := n.clock.Ticker(2 * n.cfg.LookupSettle)
	defer hedge.Stop()
	var lastErr error
	for !m.full() {
		if pending == 0 {
			if m.len() > 0 || next >= len(remote) {
				break
			}
			ask(len(remote)) // all answers were empty: ask the rest
			continue
		}
		select {
		case a := <-answers:
			pending--
			if a.err != nil {
				lastErr = a.err
				ask(1) // replace the failed replica
				continue
			}
			m.add(a.hs, n.clock.Now())
			if settle == nil {
				settle = n.clock.After(n.cfg.LookupSettle)
			}
		case <-settle:
			if m.len() > 0 {
				return m.result(), nil
			}
			settle = nil
		case <-hedge.C:
			ask(1) // nobody answered yet: ask one more replica
		case <-ctx.Done():
			if m.len() > 0 {
				return m.result(), nil
			}
			return nil, ctx.Err()
		}
	}
	if m.len() == 0 && lastErr != nil && next >= len(remote) && !local {
		return nil, lastErr
	}
	return m.result(), nil
}

// fetchFrom asks replica p for its holders of key.
func (n *Node) fetchFrom(ctx context.Context, p peer.ID, key []byte, limit int) ([]*pb.Holder, error) {
	c, err := n.client(ctx, p)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, &pb.PeerRequest{Body: &pb.PeerRequest_Fetch{Fetch: &pb.FetchRequest{Key: key, Limit: uint32(limit)}}})
	if err != nil {
		return nil, err
	}
	return resp.GetFetch().GetHolders(), nil
}

// merge keeps the newest holder per leaf among answers, dropping entries
// whose announcement does not verify (a replica cannot push a real holder
// out with a forged newer one). Its result takes the answering replicas in
// turn (round-robin, each answer in its own order, which an honest replica
// spread over origins: recordstore.SpreadByOrigin), so one replica that
// answers with junk gets one share of the answer, not all of it.
type merge struct {
	n       *Node
	key     []byte
	limit   int
	by      map[peer.ID]int // leaf → index in best
	seq     []uint64
	best    []*pb.Holder // the newest holder per leaf
	sources [][]peer.ID  // per answer, its leaves in its order
}

func newMerge(n *Node, key []byte, limit int) *merge {
	return &merge{n: n, key: key, limit: limit, by: make(map[peer.ID]int)}
}

// add takes one replica's answer hs.
func (m *merge) add(hs []*pb.Holder, now time.Time) {
	var leaves []peer.ID
	for _, h := range hs {
		// The holder's signature (cached), CID, proof, expiry; withdrawals
		// are refused.
		v, err := m.n.verified.OpenHolder(h, m.key, now)
		if err != nil {
			continue
		}
		leaves = append(leaves, v.ID)
		if i, ok := m.by[v.ID]; ok {
			if v.Seq > m.seq[i] {
				m.best[i], m.seq[i] = h, v.Seq
			}
			continue
		}
		m.by[v.ID] = len(m.best)
		m.best = append(m.best, h)
		m.seq = append(m.seq, v.Seq)
	}
	if len(leaves) > 0 {
		m.sources = append(m.sources, leaves)
	}
}

func (m *merge) len() int   { return len(m.best) }
func (m *merge) full() bool { return len(m.best) >= m.limit }

// result is up to limit distinct holders, the answers taken in turn.
func (m *merge) result() []*pb.Holder {
	out := make([]*pb.Holder, 0, min(m.limit, len(m.best)))
	taken := make(map[peer.ID]bool, cap(out))
	pos := make([]int, len(m.sources))
	for len(out) < m.limit {
		progress := false
		for i, src := range m.sources {
			for pos[i] < len(src) && taken[src[pos[i]]] {
				pos[i]++ // already taken from an earlier answer
			}
			if pos[i] == len(src) {
				continue
			}
			p := src[pos[i]]
			pos[i]++
			taken[p] = true
			out = append(out, m.best[m.by[p]])
			progress = true
			if len(out) == m.limit {
				break
			}
		}
		if !progress {
			break
		}
	}
	return out
}

// Stored lists the leaves whose live record for c this supernode holds
// itself (no replica is asked): what counting replicas per CID reads.
func (n *Node) Stored(ctx context.Context, c cid.Cid) ([]peer.ID, error) {
	hs, err := n.store.Holders(ctx, c.Hash(), n.cfg.Limits.MaxLookupResults, n.clock.Now())
	if err != nil {
		return nil, err
	}
	var out []peer.ID
	for _, h := range hs {
		if a, err := n.openAnnouncement(h.GetAnnouncement(), n.clock.Now()); err == nil {
			out = append(out, a.Peer)
		}
	}
	return out, nil
}
