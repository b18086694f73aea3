package btbridge

import (
	"cmp"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// maxCompletionLeaves bounds the leaves whose completions are kept per
// torrent; the smallest counts go first.
const maxCompletionLeaves = 4 * protocol.MaxBTCompletionLeaves

// completions counts BEP 48 "completed" events (scrape's "downloaded") per
// torrent as a grow-only counter per leaf: each leaf counts its own
// clients' completions; leaves pass their counts along in bt-peers
// requests (the asker's own, under its authenticated peer ID) and
// responses (every count the answerer knows); a count is merged by taking
// the larger. So a completion is counted once, however many leaves it
// travels through, and stays counted after the client and its leaf left
// the swarm. Guarded by Bridge.mu.
type completions struct {
	self peer.ID
	max  int // torrents kept; the least recently touched go first
	m    map[bttracker.InfoHash]*leafCounts
}

type leafCounts struct {
	by      map[peer.ID]uint32
	touched time.Time
}

func newCompletions(self peer.ID, max int) *completions {
	return &completions{self: self, max: max, m: map[bttracker.InfoHash]*leafCounts{}}
}

func (c *completions) get(ih bttracker.InfoHash, now time.Time) *leafCounts {
	lc := c.m[ih]
	if lc == nil {
		if len(c.m) >= c.max {
			c.evictOldest()
		}
		lc = &leafCounts{by: map[peer.ID]uint32{}}
		c.m[ih] = lc
	}
	lc.touched = now
	return lc
}

func (c *completions) evictOldest() {
	var oldest bttracker.InfoHash
	first := true
	var at time.Time
	for ih, lc := range c.m {
		if first || lc.touched.Before(at) {
			oldest, at, first = ih, lc.touched, false
		}
	}
	delete(c.m, oldest)
}

// addOwn counts one completion by a client of this leaf.
func (c *completions) addOwn(ih bttracker.InfoHash, now time.Time) {
	lc := c.get(ih, now)
	lc.by[c.self]++
}

// own is this leaf's count for ih.
func (c *completions) own(ih bttracker.InfoHash) uint32 {
	if lc := c.m[ih]; lc != nil {
		return lc.by[c.self]
	}
	return 0
}

// merge takes leaf's count n for ih, when larger than the one known. This
// leaf's own count is never taken from others.
func (c *completions) merge(ih bttracker.InfoHash, leaf peer.ID, n uint32, now time.Time) {
	if n == 0 || leaf == "" || leaf == c.self {
		return
	}
	lc := c.get(ih, now)
	if n <= lc.by[leaf] {
		return
	}
	if _, known := lc.by[leaf]; !known && len(lc.by) >= maxCompletionLeaves {
		// Full: drop the smallest count if this one is larger.
		small, sn := peer.ID(""), ^uint32(0)
		for id, v := range lc.by {
			if id != c.self && v < sn {
				small, sn = id, v
			}
		}
		if sn >= n {
			return
		}
		delete(lc.by, small)
	}
	lc.by[leaf] = n
}

// total is every completion known for ih.
func (c *completions) total(ih bttracker.InfoHash) int {
	lc := c.m[ih]
	if lc == nil {
		return 0
	}
	n := 0
	for _, v := range lc.by {
		n += int(v)
	}
	return n
}

// entries are the counts to send for ih: this leaf's first, then the
// largest, at most limit.
func (c *completions) entries(ih bttracker.InfoHash, limit int) []*pb.BTLeafCompletions {
	lc := c.m[ih]
	if lc == nil || limit <= 0 {
		return nil
	}
	ids := make([]peer.ID, 0, len(lc.by))
	for id, v := range lc.by {
		if v > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b peer.ID) int {
		switch {
		case a == c.self:
			return -1
		case b == c.self:
			return 1
		}
		return cmp.Or(cmp.Compare(lc.by[b], lc.by[a]), cmp.Compare(a, b))
	})
	ids = ids[:min(len(ids), limit)]
	out := make([]*pb.BTLeafCompletions, len(ids))
	for i, id := range ids {
		out[i] = &pb.BTLeafCompletions{Leaf: []byte(id), Count: lc.by[id]}
	}
	return out
}
