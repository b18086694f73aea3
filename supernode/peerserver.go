package supernode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

// peerStreamConcurrency bounds the requests one peer session has in
// service at once; beyond it the stream is not read (backpressure).
const peerStreamConcurrency = 16

// handlePeerStream serves one PeerProtocol session: a hello first, then
// pipelined requests, each answered with its id.
func (n *Node) handlePeerStream(s network.Stream) {
	if !n.track(s) {
		s.Reset()
		return
	}
	defer n.untrack(s)
	remote := s.Conn().RemotePeer()
	r := n.cfg.Limits.NewReader(s)
	var (
		wmu   sync.Mutex
		work  sync.WaitGroup
		sem   = make(chan struct{}, peerStreamConcurrency)
		hello bool
	)
	defer work.Wait()
	write := func(resp *pb.PeerResponse) {
		wmu.Lock()
		defer wmu.Unlock()
		_ = s.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := protocol.WriteMsg(traffic.ThrottledWriter{W: s, Lim: n.cfg.UploadLimit, Ctx: n.ctx}, resp); err != nil {
			s.Reset()
			return
		}
		n.cfg.Meter.Out("peer/response", proto.Size(resp))
	}
	fail := func(id uint64, err error) *pb.PeerResponse {
		return &pb.PeerResponse{Id: id, Status: protocol.StatusOf(err), Error: n.cfg.Limits.Truncate(err.Error())}
	}
	for {
		frame, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, protocol.ErrMessageTooLarge) || errors.Is(err, protocol.ErrMalformed) {
				write(fail(0, err))
			}
			if errors.Is(err, io.EOF) {
				s.Close()
			} else {
				s.Reset()
			}
			return
		}
		req, err := n.cfg.Limits.DecodePeerRequest(frame)
		if err != nil {
			write(fail(0, err))
			continue
		}
		kind := protocol.PeerRequestKind(req)
		n.cfg.Meter.In("peer/"+kind, len(frame))
		lim, rps := n.lim, n.cfg.RequestsPerSecond
		if hello {
			lim, rps = n.plim, n.cfg.PeerRequestsPerSecond
		}
		if !lim.allow(remote, n.clock.Now()) {
			write(fail(req.Id, refuse(pb.Status_RATE_LIMITED, "more than %.0f requests/s", rps)))
			continue
		}
		if h := req.GetHello(); h != nil {
			resp := n.serveHello(s, h)
			hello = resp.Status == pb.Status_OK
			resp.Id = req.Id
			write(resp)
			continue
		}
		if !hello {
			write(fail(req.Id, refuse(pb.Status_REFUSED, "not a supernode session: hello with a supernode cert first")))
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-n.ctx.Done():
			return
		}
		work.Add(1)
		go func() {
			defer work.Done()
			defer func() { <-sem }()
			start := time.Now()
			resp, err := n.servePeer(remote, req)
			if err != nil {
				resp = fail(req.Id, err)
			}
			resp.Id = req.Id
			write(resp)
			n.load.observe(time.Since(start), n.clock.Now())
		}()
	}
}

// servePeer answers one request of a hello'd session.
func (n *Node) servePeer(remote peer.ID, req *pb.PeerRequest) (*pb.PeerResponse, error) {
	switch b := req.Body.(type) {
	case *pb.PeerRequest_Gossip:
		n.learnCerts(b.Gossip.GetCerts())
		var certs [][]byte
		if len(b.Gossip.GetDigest()) > 0 {
			certs = n.view.Newer(b.Gossip.GetDigest(), n.cfg.Limits.MaxGossipCerts, n.clock.Now())
		}
		return &pb.PeerResponse{Body: &pb.PeerResponse_Gossip{Gossip: &pb.GossipResponse{Certs: certs}}}, nil
	case *pb.PeerRequest_Store:
		receipt, err := n.serveStore(remote, b.Store)
		if err != nil {
			return nil, err
		}
		return &pb.PeerResponse{Body: &pb.PeerResponse_Store{Store: &pb.StoreResponse{Receipt: receipt}}}, nil
	case *pb.PeerRequest_Fetch:
		limit := int(b.Fetch.GetLimit())
		if limit == 0 {
			limit = n.cfg.Limits.MaxLookupResults
		}
		hs, err := n.store.Holders(n.ctx, b.Fetch.GetKey(), limit, n.clock.Now())
		if err != nil {
			return nil, fmt.Errorf("supernode: reading records: %w", err)
		}
		return &pb.PeerResponse{Body: &pb.PeerResponse_Fetch{Fetch: &pb.FetchResponse{Holders: hs}}}, nil
	}
	return nil, fmt.Errorf("%w: unhandled peer request", protocol.ErrMalformed)
}

// A replica takes a CID if it is among the 2r closest in its own view:
// views differ for a moment (a death not yet noticed here, a member not yet
// gossiped), and the bound still keeps a sender from filling supernodes
// that are nowhere near a key.

// serveStore is a replica storing its share of an announcement another
// supernode sends: the announcement and every CID's inclusion proof are
// verified here, CIDs this supernode is not responsible for are left out,
// and the answer is a signed receipt of what was stored.
func (n *Node) serveStore(from peer.ID, st *pb.StoreRequest) ([]byte, error) {
	now := n.clock.Now()
	a, err := n.openAnnouncement(st.GetAnnouncement(), now)
	if err != nil {
		return nil, err
	}
	snap := n.view.Snapshot()
	// The sender's prefix is what this supernode sees; the leaf's is the
	// sender's word (protocol.OriginOf; recordstore.SpreadByOrigin).
	origin := recordstore.Origin{Via: n.originOf(from), Leaf: st.GetOrigin()}
	items := make([]recordstore.Item, 0, len(st.GetEntries()))
	for i, e := range st.GetEntries() {
		c, err := n.cfg.Limits.CIDFromBytes(e.GetCid())
		if err != nil {
			return nil, fmt.Errorf("store entry %d: %w", i, err)
		}
		if err := protocol.VerifyCIDProof(a.Root, a.Count, int(e.GetIndex()), c, e.GetProof()); err != nil {
			return nil, err
		}
		keep := snap.Replicas(c.Hash(), 2*n.cfg.ReplicationFactor, now)
		if !containsID(keep, n.host.ID()) {
			continue
		}
		items = append(items, recordstore.Item{CID: c, Index: int(e.GetIndex()), Proof: e.GetProof(), Origin: origin})
	}
	if !n.cidLim.allowPeer(from, len(items), now) {
		return nil, refuse(pb.Status_RATE_LIMITED, "more than %.0f CIDs/s from %s", n.cfg.CIDsPerSecond.PerLeaf, from)
	}
	stored, err := n.storeItems(a, items)
	if err != nil {
		return nil, err
	}
	return n.receipt(a, stored)
}

// storeItems writes items of a into the record store, on one of the
// cpuWork slots.
func (n *Node) storeItems(a *protocol.SignedAnnouncement, items []recordstore.Item) ([]int, error) {
	if len(items) == 0 {
		return nil, nil
	}
	release, err := n.cpuWork(n.ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	stored, err := n.store.Put(n.ctx, a, items, n.cfg.MaxRecordsPerLeaf)
	if errors.Is(err, recordstore.ErrLeafCap) {
		return nil, refuse(pb.Status_REFUSED, "leaf %s would exceed %d records", a.Peer, n.cfg.MaxRecordsPerLeaf)
	}
	if err != nil {
		return nil, fmt.Errorf("supernode: storing records: %w", err)
	}
	return stored, nil
}

// receipt signs what this supernode stored of a.
func (n *Node) receipt(a *protocol.SignedAnnouncement, stored []int) ([]byte, error) {
	idx := make([]uint32, len(stored))
	for i, x := range stored {
		idx[i] = uint32(x)
	}
	return n.cfg.Limits.SignReceipt(&protocol.Receipt{Replica: n.host.ID(), Announcement: a.Hash, Indices: idx,
		At: n.clock.Now()}, n.host.Peerstore().PrivKey(n.host.ID()))
}

// openAnnouncement verifies an announcement envelope, once per envelope:
// the verified result is cached by the envelope's hash.
func (n *Node) openAnnouncement(env []byte, now time.Time) (*protocol.SignedAnnouncement, error) {
	return n.verified.Open(env, now)
}

func containsID(ids []peer.ID, p peer.ID) bool {
	for _, q := range ids {
		if q == p {
			return true
		}
	}
	return false
}

var _ = context.Background
