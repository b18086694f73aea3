package supernode

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ipfs/go-cid"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// announce verifies a leaf's signed announcement (the signer must be the
// leaf on the other end of the stream), stores it here if this supernode is
// among the r closest to a CID, and replicates it to the other closest
// supernodes, which verify it again.
func (n *Node) announce(leaf peer.ID, envelope []byte) (*pb.AnnounceResponse, error) {
	a, err := n.cfg.Limits.OpenAnnouncement(envelope, n.now())
	if err != nil {
		return nil, err
	}
	if a.Peer != leaf {
		return nil, fmt.Errorf("%w: announcement of %s sent by %s", protocol.ErrSignerMismatch, a.Peer, leaf)
	}
	ctx, cancel := context.WithTimeout(n.ctx, n.cfg.ReplicateTimeout)
	defer cancel()
	targets := n.replicaSet(ctx, a.CIDs)
	stored, refusal := n.replicate(ctx, targets, a, envelope)
	if stored == 0 {
		if refusal != nil {
			return nil, refusal // e.g. over the records-per-leaf cap
		}
		return nil, refuse(pb.Status_INTERNAL, "no supernode stored the announcement")
	}
	return &pb.AnnounceResponse{Accepted: uint32(len(a.CIDs)), Replicas: uint32(stored)}, nil
}

// replicaSet is the union over cids of the r supernodes closest to each CID
// (this one included when it is among them).
func (n *Node) replicaSet(ctx context.Context, cids []cid.Cid) []peer.ID {
	var mu sync.Mutex
	set := make(map[peer.ID]struct{})
	var wg sync.WaitGroup
	for _, c := range cids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closest := n.closestSupernodes(ctx, c, n.cfg.ReplicationFactor)
			mu.Lock()
			for _, p := range closest {
				set[p] = struct{}{}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	out := make([]peer.ID, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	return out
}

// closestSupernodes returns the r supernodes (self included) closest to c
// by XOR distance, found with a DHT GetClosestPeers query; if the query
// fails it falls back to the local routing table.
func (n *Node) closestSupernodes(ctx context.Context, c cid.Cid, r int) []peer.ID {
	key := string(c.Hash())
	peers, err := n.dht.GetClosestPeers(ctx, key)
	if err != nil || len(peers) == 0 {
		peers = n.dht.RoutingTable().NearestPeers(kb.ConvertKey(key), r)
	}
	peers = append(peers, n.host.ID())
	peers = kb.SortClosestPeers(dedup(peers), kb.ConvertKey(key))
	if len(peers) > r {
		peers = peers[:r]
	}
	return peers
}

func dedup(ps []peer.ID) []peer.ID {
	seen := make(map[peer.ID]struct{}, len(ps))
	out := ps[:0]
	for _, p := range ps {
		if _, ok := seen[p]; !ok {
			seen[p] = struct{}{}
			out = append(out, p)
		}
	}
	return out
}

// replicate stores a at every target and returns how many stored it, and
// one of the refusals (as opposed to failures) if any target refused it.
func (n *Node) replicate(ctx context.Context, targets []peer.ID, a *protocol.Announcement, envelope []byte) (int, error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := 0
	var refusal error
	for _, p := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if p == n.host.ID() {
				err = n.store(ctx, a)
			} else {
				err = n.sendReplica(ctx, p, envelope)
			}
			if err != nil {
				n.cfg.Logger.Debug("replication failed", "to", p, "leaf", a.Peer, "err", err)
				if errors.Is(err, protocol.ErrRefused) {
					mu.Lock()
					refusal = err
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			stored++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return stored, refusal
}

// store writes a verified announcement into the DHT's provider store, where
// kad-dht's GET_PROVIDERS handler serves it to any client.
func (n *Node) store(ctx context.Context, a *protocol.Announcement) error {
	now := n.now()
	cids, ok := n.index.admit(a.Peer, a.CIDs, a.Seq, a.Expires, a.Withdraw, n.cfg.MaxRecordsPerLeaf, now)
	if !ok {
		return refuse(pb.Status_REFUSED, "leaf %s would exceed %d records", a.Peer, n.cfg.MaxRecordsPerLeaf)
	}
	if a.Withdraw {
		// kad-dht's provider store has no delete: the record ages out
		// within RecordTTL; until then lookups through us filter it.
		return nil
	}
	info := peer.AddrInfo{ID: a.Peer, Addrs: a.Addrs}
	if a.Peer == n.host.ID() {
		// kad-dht keeps no addresses for records whose provider is the
		// local peer (it serves them from the peerstore): put ours there.
		n.host.Peerstore().AddAddrs(a.Peer, a.Addrs, n.cfg.RecordTTL)
	}
	ps := n.dht.ProviderStore()
	for _, c := range cids {
		if err := ps.AddProvider(ctx, c.Hash(), info); err != nil {
			return fmt.Errorf("supernode: storing provider record: %w", err)
		}
	}
	return nil
}

// AnnounceSelf verifies and replicates an announcement signed by this
// supernode's own key: how a node that was promoted keeps announcing what
// it holds (leaf.LocalOverlay).
func (n *Node) AnnounceSelf(_ context.Context, envelope []byte) (accepted, replicas int, err error) {
	res, err := n.announce(n.host.ID(), envelope)
	if err != nil {
		return 0, 0, err
	}
	return int(res.Accepted), int(res.Replicas), nil
}

// StoreAnnouncement verifies a signed announcement and stores it locally
// (what a replica does on ReplicateProtocol).
func (n *Node) StoreAnnouncement(ctx context.Context, envelope []byte) error {
	a, err := n.cfg.Limits.OpenAnnouncement(envelope, n.now())
	if err != nil {
		return err
	}
	return n.store(ctx, a)
}
