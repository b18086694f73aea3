package supernode

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode/membership"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

// Repair keeps every live CID on its r closest live supernodes without
// waiting for the leaf's refresh:
//   - a replica that did not store its share at announce time is retried
//     (with backoff, while the record lives and the replica is still
//     responsible);
//   - when the membership changes (a supernode joins, leaves, dies or comes
//     back), each supernode walks its store: for every record whose replica
//     set gained members, the closest old replica still alive pushes it to
//     them, and a supernode no longer responsible drops its copy once
//     another holder is there to push.

// pushJob is a store request owed to one replica.
type pushJob struct {
	to       peer.ID
	req      *pb.StoreRequest
	expires  time.Time
	attempts int
	next     time.Time
}

// maxPendingPushes bounds the retry queue (beyond it the oldest are
// dropped: the leaf's refresh re-places them).
const maxPendingPushes = 10000

// retryLater queues b's CIDs at idx (from origin) for replica p.
func (n *Node) retryLater(p peer.ID, b *protocol.Batch, idx []int, origin []byte) {
	st := &pb.StoreRequest{Announcement: b.Envelope, Origin: origin}
	for _, i := range idx {
		proof, err := b.Tree.Proof(i)
		if err != nil {
			return
		}
		st.Entries = append(st.Entries, &pb.StoreEntry{Cid: b.CIDs[i].Bytes(), Index: uint32(i), Proof: proof})
	}
	n.queuePush(pushJob{to: p, req: st, expires: b.Expires, next: n.clock.Now().Add(n.cfg.RepairDelay)})
}

func (n *Node) queuePush(j pushJob) {
	n.repairMu.Lock()
	defer n.repairMu.Unlock()
	if len(n.pushes) >= maxPendingPushes {
		n.pushes = n.pushes[1:]
		n.repairDropped++
	}
	n.pushes = append(n.pushes, j)
}

// repairLoop runs the retry queue and the membership-change walk.
func (n *Node) repairLoop() {
	defer n.wg.Done()
	t := n.clock.Ticker(n.cfg.RepairDelay)
	defer t.Stop()
	// last is the placement records were last balanced for; a change of
	// the placement set (not of certs alone) is handled at the next tick,
	// so at most one store walk runs per RepairDelay.
	last := n.view.Snapshot()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		cur := n.view.Snapshot()
		if !cur.SamePlacement(last) {
			n.rebalance(last, cur)
		}
		last = cur
		n.runPushes()
	}
}

// runPushes sends the queued store requests that are due.
func (n *Node) runPushes() {
	now := n.clock.Now()
	n.repairMu.Lock()
	var due, keep []pushJob
	for _, j := range n.pushes {
		switch {
		case !j.expires.After(now) || j.attempts >= 6:
		case j.next.After(now):
			keep = append(keep, j)
		default:
			due = append(due, j)
		}
	}
	n.pushes = keep
	n.repairMu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, j := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ReplicateTimeout)
			defer cancel()
			env, err := n.sendStore(ctx, j.to, j.req)
			var rc *protocol.Receipt
			if err == nil {
				rc, err = n.cfg.Limits.ReadReceipt(env) // authenticated session: read only
			}
			if err != nil {
				if n.ctx.Err() != nil {
					return
				}
				n.cfg.Logger.Debug("repair push failed", "to", j.to, "entries", len(j.req.Entries), "err", err)
				n.retryPush(j, j.req.Entries)
				return
			}
			have := make(map[uint32]bool, len(rc.Indices))
			for _, x := range rc.Indices {
				have[x] = true
			}
			var missing []*pb.StoreEntry
			for _, e := range j.req.Entries {
				if !have[e.Index] {
					missing = append(missing, e)
				}
			}
			n.repaired.Add(int64(len(j.req.Entries) - len(missing)))
			if len(missing) > 0 {
				n.retryPush(j, missing)
			}
		}()
	}
	wg.Wait()
}

// retryPush queues entries of j again, later, while j.to is still usable.
func (n *Node) retryPush(j pushJob, entries []*pb.StoreEntry) {
	j.attempts++
	j.next = n.clock.Now().Add(n.cfg.RepairDelay << min(j.attempts, 6))
	j.req = &pb.StoreRequest{Announcement: j.req.Announcement, Entries: entries, Origin: j.req.Origin}
	if n.view.Snapshot().Has(j.to, n.clock.Now()) {
		n.queuePush(j)
	}
}

// rebalance moves records after the membership changed from prev to cur.
func (n *Node) rebalance(prev, cur *membership.Snapshot) {
	now := n.clock.Now()
	self := n.host.ID()
	r := n.cfg.ReplicationFactor
	type share struct {
		to peer.ID
		h  [32]byte
	}
	pushes := make(map[share]*pushJob)
	var drop []*recordstore.Record
	err := n.store.Each(n.ctx, func(rec *recordstore.Record) bool {
		if !rec.Expires.After(now) {
			return true
		}
		before := prev.Replicas(rec.Key, r, now)
		after := cur.Replicas(rec.Key, r, now)
		if sameIDs(before, after) && containsID(before, self) {
			return true // nothing changed for this key
		}
		// The pusher is the closest live member believed to hold the
		// record; a holder the previous view did not place it on (views
		// differ for a moment) pushes it itself. The pusher sends it to
		// every other member of the new set: a member the previous view
		// counted as a holder may never have got it, and a copy it already
		// has costs the receiver one read.
		pusher := self
		if containsID(before, self) {
			for _, p := range before {
				if cur.Has(p, now) {
					pusher = p
					break
				}
			}
		}
		if pusher == self {
			for _, p := range after {
				if p == self {
					continue
				}
				k := share{p, rec.Announcement}
				j := pushes[k]
				if j == nil {
					// The leaf's prefix travels on; the receiver groups the
					// record under this supernode's prefix as the sender.
					j = &pushJob{to: p, expires: rec.Expires, req: &pb.StoreRequest{Origin: rec.Origin.Leaf}}
					pushes[k] = j
				}
				j.req.Entries = append(j.req.Entries, &pb.StoreEntry{Cid: rec.CID.Bytes(), Index: uint32(rec.Index), Proof: rec.Proof})
			}
		}
		if !containsID(after, self) && pusher != self {
			// Another live holder pushes it to the new replicas; a copy
			// this supernode would push itself is kept until a later
			// change hands the pushing over (or the record expires).
			drop = append(drop, rec)
		}
		return n.ctx.Err() == nil
	})
	if err != nil {
		n.cfg.Logger.Warn("repair: reading the store", "err", err)
		return
	}
	for k, j := range pushes {
		env, err := n.store.Announcement(n.ctx, k.h)
		if err != nil {
			continue // collected meanwhile
		}
		j.req.Announcement = env
		for len(j.req.Entries) > 0 { // at most a full announcement per request
			part := *j
			cut := min(len(j.req.Entries), n.cfg.Limits.MaxCIDsPerAnnouncement)
			part.req = &pb.StoreRequest{Announcement: env, Entries: j.req.Entries[:cut], Origin: j.req.Origin}
			j.req.Entries = j.req.Entries[cut:]
			part.next = now
			n.queuePush(part)
		}
	}
	n.runPushes()
	for _, rec := range drop {
		_ = n.store.Delete(n.ctx, rec.Key, rec.Leaf, rec.Announcement)
	}
	if len(pushes) > 0 || len(drop) > 0 {
		n.cfg.Logger.Debug("repair after membership change", "pushes", len(pushes), "dropped", len(drop))
	}
}

// sameIDs reports whether a and b hold the same peers.
func sameIDs(a, b []peer.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for _, p := range a {
		if !containsID(b, p) {
			return false
		}
	}
	return true
}
