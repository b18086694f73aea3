package recordstore

// Answer stuffing: anyone may announce that it holds any CID, and an answer
// holds at most Limits.MaxLookupResults holders, so identities from one
// network prefix could fill every answer and hide the honest holders.
// Answers are therefore spread over where the records came from: first over
// the supernodes that sent them here (a prefix this supernode sees itself,
// so a lying primary that tags its Sybils with made-up leaf prefixes still
// gets one share), then, within each, over the leaves' prefixes (as that
// supernode said).

// SpreadByOrigin returns at most limit of items, ordered so that the
// origins share the answer: round-robin over the Via prefixes (in order of
// first appearance), each Via's share itself round-robin over its Leaf
// prefixes. Items keep their order within one origin. With limit slots and
// g groups at a level, no group gets more than ceil(limit/g) while another
// still has items.
func SpreadByOrigin[T any](items []T, origin func(T) Origin, limit int) []T {
	if limit <= 0 {
		return nil
	}
	type via struct {
		leaves map[string]int // leaf prefix → index in lists
		lists  [][]T
	}
	vias := make(map[string]int)
	var groups []*via
	for _, it := range items {
		o := origin(it)
		vi, ok := vias[string(o.Via)]
		if !ok {
			vi = len(groups)
			vias[string(o.Via)] = vi
			groups = append(groups, &via{leaves: make(map[string]int)})
		}
		g := groups[vi]
		li, ok := g.leaves[string(o.Leaf)]
		if !ok {
			li = len(g.lists)
			g.leaves[string(o.Leaf)] = li
			g.lists = append(g.lists, nil)
		}
		g.lists[li] = append(g.lists[li], it)
	}
	shares := make([][]T, len(groups))
	for i, g := range groups {
		shares[i] = roundRobin(g.lists, len(items))
	}
	return roundRobin(shares, limit)
}

// roundRobin takes one item from each list in turn until limit items are
// taken or every list is used up.
func roundRobin[T any](lists [][]T, limit int) []T {
	var out []T
	for depth := 0; len(out) < limit; depth++ {
		took := false
		for _, l := range lists {
			if depth < len(l) {
				out = append(out, l[depth])
				took = true
				if len(out) == limit {
					break
				}
			}
		}
		if !took {
			break
		}
	}
	return out
}
