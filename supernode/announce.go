package supernode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

// The record path. A leaf's primary verifies its signed announcement once,
// places every CID on the r closest usable supernodes of its membership
// view (one per network prefix), groups the batch by replica, and sends
// each replica only its CIDs with their inclusion proofs, on the kept-open
// session with that replica. Replicas verify and answer with signed
// receipts; the leaf gets them all and counts its replicas itself. CIDs
// that reached fewer than the target are an explicit outcome, and the
// primary keeps retrying the missing replicas (repair.go).

// AnnounceOutcome is what an announcement achieved.
type AnnounceOutcome struct {
	Accepted    int      // CIDs accepted
	Target      int      // replicas each CID should have: r, or fewer supernodes
	CIDReplicas []int    // per CID: replicas whose receipt covers it
	Receipts    [][]byte // the replicas' signed receipts
}

// MinReplicas is the fewest replicas any CID reached.
func (o *AnnounceOutcome) MinReplicas() int {
	m := -1
	for _, c := range o.CIDReplicas {
		if m < 0 || c < m {
			m = c
		}
	}
	return max(m, 0)
}

// UnderReplicated counts CIDs below the target.
func (o *AnnounceOutcome) UnderReplicated() int {
	k := 0
	for _, c := range o.CIDReplicas {
		if c < o.Target {
			k++
		}
	}
	return k
}

// Announce verifies and places a leaf's signed announcement (envelope) of
// cids (wire form). leaf is the peer that sent it, which must be the
// signer.
//
// The cheap refusals come first: the sender's CID budget (charged for the
// CIDs it sent, valid or not) and the bound on announcements in flight;
// only then is the batch verified (its Merkle root rebuilt), one of
// cpuWorkers at a time.
func (n *Node) Announce(ctx context.Context, leaf peer.ID, envelope []byte, cids [][]byte) (*AnnounceOutcome, error) {
	now := n.clock.Now()
	if ok, wait := n.cidLim.allowLeaf(leaf, n.prefixOf(leaf), len(cids), now); !ok {
		n.tarpit(ctx, wait)
		return nil, refuse(pb.Status_RATE_LIMITED, "announcement budget exceeded (%d CIDs)", len(cids))
	}
	if !n.acquireAnnounce(ctx) {
		return nil, refuse(pb.Status_OVER_CAPACITY, "%d announcements in flight; try another supernode", n.cfg.MaxConcurrentAnnounces)
	}
	defer n.announcing.Release(1)
	ctx, cancel := context.WithTimeout(ctx, n.cfg.ReplicateTimeout)
	defer cancel()
	b, err := n.verifyBatch(ctx, leaf, envelope, cids, now)
	if err != nil {
		return nil, err
	}
	return n.place(ctx, b, n.originOf(leaf))
}

// verifyBatch opens leaf's signed announcement and binds its CIDs to the
// signed root, on one of the cpuWork slots.
func (n *Node) verifyBatch(ctx context.Context, leaf peer.ID, envelope []byte, cids [][]byte, now time.Time) (*protocol.Batch, error) {
	release, err := n.cpuWork(ctx)
	if err != nil {
		return nil, refuse(pb.Status_OVER_CAPACITY, "busy: %v", err)
	}
	defer release()
	a, err := n.openAnnouncement(envelope, now)
	if err != nil {
		return nil, err
	}
	if a.Peer != leaf {
		return nil, fmt.Errorf("%w: announcement of %s sent by %s", protocol.ErrSignerMismatch, a.Peer, leaf)
	}
	return n.cfg.Limits.BindCIDs(a, cids)
}

// place stores batch b, which came from the network prefix origin
// (protocol.OriginOf), on each CID's replicas and collects the receipts.
func (n *Node) place(ctx context.Context, b *protocol.Batch, origin []byte) (*AnnounceOutcome, error) {
	now := n.clock.Now()
	snap := n.view.Snapshot()
	r := n.cfg.ReplicationFactor
	shares := make(map[peer.ID][]int) // replica → indices of its CIDs
	for i, c := range b.CIDs {
		for _, p := range snap.Replicas(c.Hash(), r, now) {
			shares[p] = append(shares[p], i)
		}
	}
	out := &AnnounceOutcome{Accepted: len(b.CIDs), Target: min(r, snap.Size(now))}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		receipts []*protocol.Receipt
		refusal  error
		failed   = make(map[peer.ID][]int)
	)
	for p, idx := range shares {
		if err := n.storing.Acquire(ctx, 1); err != nil {
			mu.Lock()
			failed[p] = idx
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer n.storing.Release(1)
			env, err := n.storeAt(ctx, p, b, idx, origin)
			var rc *protocol.Receipt
			if err == nil {
				// The session is authenticated to p: read what the receipt
				// lists; the leaf checks its signature.
				rc, err = n.cfg.Limits.ReadReceipt(env)
				if err == nil && (rc.Replica != p || rc.Announcement != b.Hash) {
					err = fmt.Errorf("%w: receipt from %s names %s", protocol.ErrSignerMismatch, p, rc.Replica)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				n.cfg.Logger.Debug("replica store failed", "replica", p, "leaf", b.Peer, "err", err)
				if errors.Is(err, protocol.ErrRefused) && refusal == nil {
					refusal = err
				}
				failed[p] = idx
				return
			}
			receipts = append(receipts, rc)
			out.Receipts = append(out.Receipts, env)
			if missing := missingIndices(idx, rc.Indices); len(missing) > 0 && p != n.host.ID() {
				failed[p] = missing
			}
		}()
	}
	wg.Wait()
	out.CIDReplicas = protocol.ReplicasPerCID(b.Hash, len(b.CIDs), receipts)
	if refusal != nil && len(receipts) == 0 {
		return nil, refusal // e.g. over the records-per-leaf cap everywhere
	}
	if out.MinReplicas() == 0 && out.Target > 0 && len(receipts) == 0 {
		return nil, refuse(pb.Status_INTERNAL, "no replica stored the announcement")
	}
	if refusal == nil {
		for p, idx := range failed {
			n.retryLater(p, b, idx, origin)
		}
	}
	return out, nil
}

// storeAt sends replica p its share (indices idx) of b, which came from
// origin, and returns its signed receipt; this supernode stores its own
// share directly.
func (n *Node) storeAt(ctx context.Context, p peer.ID, b *protocol.Batch, idx []int, origin []byte) ([]byte, error) {
	if p == n.host.ID() {
		items := make([]recordstore.Item, 0, len(idx))
		for _, i := range idx {
			proof, err := b.Tree.Proof(i)
			if err != nil {
				return nil, err
			}
			items = append(items, recordstore.Item{CID: b.CIDs[i], Index: i, Proof: proof, Origin: recordstore.Origin{Leaf: origin}})
		}
		stored, err := n.storeItems(b.SignedAnnouncement, items)
		if err != nil {
			return nil, err
		}
		return n.receipt(b.SignedAnnouncement, stored)
	}
	st := &pb.StoreRequest{Announcement: b.Envelope, Origin: origin}
	for _, i := range idx {
		proof, err := b.Tree.Proof(i)
		if err != nil {
			return nil, err
		}
		st.Entries = append(st.Entries, &pb.StoreEntry{Cid: b.CIDs[i].Bytes(), Index: uint32(i), Proof: proof})
	}
	return n.sendStore(ctx, p, st)
}

// sendStore sends one store request to replica p and returns the receipt.
func (n *Node) sendStore(ctx context.Context, p peer.ID, st *pb.StoreRequest) ([]byte, error) {
	c, err := n.client(ctx, p)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, &pb.PeerRequest{Body: &pb.PeerRequest_Store{Store: st}})
	if err != nil {
		return nil, err
	}
	return resp.GetStore().GetReceipt(), nil
}

// missingIndices returns the indices of want that got does not list.
func missingIndices(want []int, got []uint32) []int {
	have := make(map[uint32]bool, len(got))
	for _, g := range got {
		have[g] = true
	}
	var out []int
	for _, w := range want {
		if !have[uint32(w)] {
			out = append(out, w)
		}
	}
	return out
}

// AnnounceSelf verifies and places an announcement signed by this
// supernode's own key: how a node that was promoted keeps announcing what
// it holds (leaf.LocalOverlay). The answer is in wire form, with the
// receipts, as a remote supernode would give it.
func (n *Node) AnnounceSelf(ctx context.Context, envelope []byte, cids [][]byte) (*pb.AnnounceResponse, error) {
	out, err := n.Announce(ctx, n.host.ID(), envelope, cids)
	if err != nil {
		return nil, err
	}
	return out.toPB(), nil
}

// retryWindow bounds how long a failed replica store is retried.
const retryWindow = 5 * time.Minute
