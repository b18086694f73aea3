package membership

import (
	"bytes"
	"slices"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Snapshot is an immutable copy of the members usable for placement.
type Snapshot struct {
	Version uint64
	self    peer.ID
	members []placed // sorted by key
}

type placed struct {
	id      peer.ID
	key     kb.ID
	group   string
	expires time.Time
}

// SamePlacement reports whether s and o place every key on the same
// members (the same members in the same groups; cert renewals aside).
func (s *Snapshot) SamePlacement(o *Snapshot) bool {
	if len(s.members) != len(o.members) {
		return false
	}
	for i, m := range s.members { // both sorted by key
		if m.id != o.members[i].id || m.group != o.members[i].group {
			return false
		}
	}
	return true
}

// Size is the number of members usable at now.
func (s *Snapshot) Size(now time.Time) int {
	n := 0
	for _, m := range s.members {
		if m.expires.After(now) {
			n++
		}
	}
	return n
}

// IDs lists the members usable at now.
func (s *Snapshot) IDs(now time.Time) []peer.ID {
	out := make([]peer.ID, 0, len(s.members))
	for _, m := range s.members {
		if m.expires.After(now) {
			out = append(out, m.id)
		}
	}
	return out
}

// Has reports whether p is usable at now.
func (s *Snapshot) Has(p peer.ID, now time.Time) bool {
	for _, m := range s.members {
		if m.id == p {
			return m.expires.After(now)
		}
	}
	return false
}

// Replicas returns the members responsible for key (a multihash): the r
// closest to it in kad-dht's XOR metric (over SHA-256 of key and of peer
// IDs, as kad-dht measures), at most one per diversity group, closest
// first. Fewer come back when fewer groups are usable.
func (s *Snapshot) Replicas(key []byte, r int, now time.Time) []peer.ID {
	return s.Closest(key, r, now, nil)
}

// Closest is Replicas with an optional filter on members.
func (s *Snapshot) Closest(key []byte, r int, now time.Time, keep func(peer.ID) bool) []peer.ID {
	target := kb.ConvertKey(string(key))
	type cand struct {
		d   [32]byte
		idx int
	}
	cands := make([]cand, 0, len(s.members))
	for i, m := range s.members {
		if !m.expires.After(now) || (keep != nil && !keep(m.id)) {
			continue
		}
		var c cand
		c.idx = i
		for j := range c.d {
			c.d[j] = target[j] ^ m.key[j]
		}
		cands = append(cands, c)
	}
	slices.SortFunc(cands, func(a, b cand) int { return bytes.Compare(a.d[:], b.d[:]) })
	out := make([]peer.ID, 0, r)
	used := make(map[string]bool, r)
	for _, c := range cands {
		if len(out) == r {
			break
		}
		m := s.members[c.idx]
		if used[m.group] {
			continue
		}
		used[m.group] = true
		out = append(out, m.id)
	}
	return out
}
