package supernode

import (
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"
)

// recordIndex mirrors what this supernode has put into the DHT's provider
// store, per leaf, so that it can enforce per-leaf caps, honour withdrawals
// and count records. The provider store itself stays the source of truth for
// lookups.
type recordIndex struct {
	mu      sync.Mutex
	byLeaf  map[peer.ID]map[cid.Cid]entry
	records int
	// db, if set, keeps the index across restarts (index_store.go); logErr
	// reports its write errors.
	db     ds.Batching
	logErr func(error)
}

type entry struct {
	seq       uint64
	expires   time.Time
	withdrawn bool // a tombstone: the leaf withdrew the CID at seq
}

func newRecordIndex() *recordIndex {
	return &recordIndex{byLeaf: make(map[peer.ID]map[cid.Cid]entry)}
}

// admit applies an announcement to the index and returns the CIDs that must
// be written to (or, for a withdrawal, that were removed from) the provider
// store. CIDs for which the index already holds a newer sequence number are
// skipped. It fails, changing nothing, if the leaf would exceed maxPerLeaf
// live records.
func (x *recordIndex) admit(leaf peer.ID, cids []cid.Cid, seq uint64, expires time.Time, withdraw bool, maxPerLeaf int, now time.Time) ([]cid.Cid, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.byLeaf[leaf]
	if m == nil {
		m = make(map[cid.Cid]entry)
	}
	live := 0
	for _, e := range m {
		if !e.withdrawn && e.expires.After(now) {
			live++
		}
	}
	var out []cid.Cid
	added := 0
	for _, c := range cids {
		old, ok := m[c]
		if ok && old.seq > seq {
			continue // a newer announcement or withdrawal already applied
		}
		if !withdraw && (!ok || old.withdrawn || !old.expires.After(now)) {
			added++
		}
		out = append(out, c)
	}
	if !withdraw && live+added > maxPerLeaf {
		return nil, false
	}
	for _, c := range out {
		old, ok := m[c]
		if ok && !old.withdrawn {
			x.records--
		}
		m[c] = entry{seq: seq, expires: expires, withdrawn: withdraw}
		if !withdraw {
			x.records++
		}
	}
	x.byLeaf[leaf] = m
	if err := x.persist(leaf, m, out, false); err != nil && x.logErr != nil {
		x.logErr(err)
	}
	return out, true
}

// withdrawn reports whether leaf withdrew c (and the tombstone is live).
func (x *recordIndex) withdrawn(leaf peer.ID, c cid.Cid, now time.Time) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	e, ok := x.byLeaf[leaf][c]
	return ok && e.withdrawn && e.expires.After(now)
}

// gc drops expired entries and tombstones.
func (x *recordIndex) gc(now time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for leaf, m := range x.byLeaf {
		var gone []cid.Cid
		for c, e := range m {
			if !e.expires.After(now) {
				if !e.withdrawn {
					x.records--
				}
				delete(m, c)
				gone = append(gone, c)
			}
		}
		if err := x.persist(leaf, m, gone, true); err != nil && x.logErr != nil {
			x.logErr(err)
		}
		if len(m) == 0 {
			delete(x.byLeaf, leaf)
		}
	}
}

// count returns the live (unwithdrawn) records and the number of leaves.
func (x *recordIndex) count() (records, leaves int) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.records, len(x.byLeaf)
}
