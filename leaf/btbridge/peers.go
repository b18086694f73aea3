package btbridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// maxRequestsPerStream bounds the requests served on one inbound stream.
const maxRequestsPerStream = 64

// errAllLookupsFailed: no overlay lookup of a collection succeeded.
var errAllLookupsFailed = errors.New("btbridge: every overlay lookup failed")

// swarm is what the bridge knows of one torrent: counts over every leaf
// that answered, and peers sampled from them.
type swarm struct {
	seeders, leechers, downloaded int
	peers                         []btPeer
}

type btPeer struct {
	addr   netip.AddrPort
	seeder bool
	id     bttracker.PeerID
	hasID  bool
}

// collect gathers, for each infohash, the local clients and those held by
// the leaves the overlay returns as holders of its CID: one lookup per
// infohash, then one bt-peers query per holder leaf (covering every
// infohash it holds), all bounded by MaxParallelQueries and QueryTimeout.
// limit is how many peers to ask each leaf for (0: counts only); the
// requester's own client is counted but not listed. It returns one swarm per
// infohash, and an error wrapping errAllLookupsFailed when no lookup
// succeeded (the swarms then hold local clients only).
func (b *Bridge) collect(ctx context.Context, hs []bttracker.InfoHash, limit int, seeder bool, requester bttracker.PeerID) ([]swarm, error) {
	out := make([]swarm, len(hs))
	limit = min(max(limit, 0), protocol.MaxBTPeers)

	// Local clients.
	b.mu.Lock()
	now := b.cfg.Now()
	for i, ih := range hs {
		t := b.torrents[ih]
		if t == nil {
			continue
		}
		out[i].seeders, out[i].leechers = t.liveCounts(now)
		for id, c := range t.live(now) {
			if limit > 0 && id != requester {
				out[i].peers = append(out[i].peers, btPeer{addr: c.addr, seeder: c.seeder, id: id, hasID: true})
			}
		}
	}
	b.mu.Unlock()

	// Holders of each infohash, other than this leaf.
	type holder struct {
		info peer.AddrInfo
		idx  []int // into hs
	}
	var (
		mu       sync.Mutex
		holders  = map[peer.ID]*holder{}
		order    []peer.ID
		failures int
		lastErr  error
	)
	self := b.self
	b.parallel(ctx, len(hs), func(ctx context.Context, i int) {
		start := time.Now()
		infos, err := b.agent.Lookup(ctx, bttracker.InfoHashToCID(hs[i]), b.cfg.MaxHolders)
		if b.cfg.OnLookup != nil {
			b.cfg.OnLookup(LookupInfo{InfoHash: hs[i], Holders: len(infos), Duration: time.Since(start), Err: err})
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures++
			lastErr = err
			return
		}
		for _, ai := range infos {
			if ai.ID == self || ai.ID == "" {
				continue
			}
			h := holders[ai.ID]
			if h == nil {
				h = &holder{info: ai}
				holders[ai.ID] = h
				order = append(order, ai.ID)
			}
			h.idx = append(h.idx, i)
		}
	})
	var err error
	if len(hs) > 0 && failures == len(hs) {
		err = fmt.Errorf("%w: %w", errAllLookupsFailed, lastErr)
	}

	// Ask each holder leaf for its clients.
	b.parallel(ctx, len(order), func(ctx context.Context, k int) {
		h := holders[order[k]]
		req := &pb.BTPeersRequest{Limit: uint32(limit), Seeder: seeder}
		b.mu.Lock()
		for _, i := range h.idx {
			req.InfoHashes = append(req.InfoHashes, hs[i][:])
			req.Completed = append(req.Completed, b.done.own(hs[i]))
		}
		b.mu.Unlock()
		resp, via, qerr := b.query(ctx, h.info, req)
		if qerr != nil {
			b.cfg.Logger.Debug("btbridge: bt-peers query failed", "peer", h.info.ID, "err", qerr)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, s := range resp.Swarms {
			var ih bttracker.InfoHash
			copy(ih[:], s.InfoHash)
			i := slices.IndexFunc(h.idx, func(i int) bool { return hs[i] == ih })
			if i < 0 {
				continue // not asked: ignore
			}
			dst := &out[h.idx[i]]
			dst.seeders += int(s.Seeders)
			dst.leechers += int(s.Leechers)
			b.mergeCompletions(ih, h.info.ID, s)
			for j, p := range s.Peers {
				if j >= limit {
					break
				}
				dst.peers = append(dst.peers, peerFromPB(p, via))
			}
		}
	})
	b.mu.Lock()
	for i, ih := range hs {
		out[i].downloaded = b.done.total(ih)
	}
	b.mu.Unlock()
	return out, err
}

// mergeCompletions takes the per-leaf completion counts of a swarm that
// leaf from answered with. An answer without them (an older leaf) counts
// its total as from's own.
func (b *Bridge) mergeCompletions(ih bttracker.InfoHash, from peer.ID, s *pb.BTSwarm) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	if len(s.Completions) == 0 {
		b.done.merge(ih, from, s.Downloaded, now)
		return
	}
	for _, e := range s.Completions {
		if id, err := peer.IDFromBytes(e.Leaf); err == nil {
			b.done.merge(ih, id, e.Count, now)
		}
	}
}

// peerFromPB converts a validated peer. A loopback or unspecified address
// is where the client reached its own leaf, meaningless here: it is
// replaced by via, the address this leaf reached that leaf at, unless via
// is loopback too (a single-machine testnet, where loopback is right).
func peerFromPB(p *pb.BTPeer, via netip.Addr) btPeer {
	ip, _ := netip.AddrFromSlice(p.Ip)
	ip = ip.Unmap()
	if (ip.IsLoopback() || ip.IsUnspecified()) && via.IsValid() && !via.IsLoopback() && !via.IsUnspecified() {
		ip = via
	}
	out := btPeer{addr: netip.AddrPortFrom(ip, uint16(p.Port)), seeder: p.Seeder}
	if len(p.PeerId) == protocol.BTPeerIDSize {
		copy(out.id[:], p.PeerId)
		out.hasID = true
	}
	return out
}

// parallel runs f(ctx, 0..n-1) with at most MaxParallelQueries at once.
func (b *Bridge) parallel(ctx context.Context, n int, f func(context.Context, int)) {
	sem := make(chan struct{}, b.cfg.MaxParallelQueries)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			f(ctx, i)
		})
	}
	wg.Wait()
}

// pickPeers selects the peers returned to a client: never the client
// itself (by peer ID or address), no duplicate addresses, only leechers for
// a seeder, at most numWant, in random order.
func pickPeers(all []btPeer, numWant int, seeder bool, requester bttracker.PeerID, self netip.AddrPort) []bttracker.Peer {
	if numWant <= 0 {
		return nil
	}
	seen := map[netip.AddrPort]bool{self: true}
	cand := make([]btPeer, 0, len(all))
	for _, p := range all {
		if seen[p.addr] || (p.hasID && p.id == requester) || (seeder && p.seeder) ||
			!p.addr.Addr().IsValid() || p.addr.Addr().IsUnspecified() || p.addr.Port() == 0 {
			continue
		}
		seen[p.addr] = true
		cand = append(cand, p)
	}
	rand.Shuffle(len(cand), func(i, j int) { cand[i], cand[j] = cand[j], cand[i] })
	cand = cand[:min(len(cand), numWant)]
	out := make([]bttracker.Peer, len(cand))
	for i, p := range cand {
		out[i] = bttracker.Peer{IP: p.addr.Addr(), Port: p.addr.Port(), ID: p.id}
	}
	return out
}

// query asks one leaf for its clients. It returns the validated response
// and the IP the leaf was reached at.
func (b *Bridge) query(ctx context.Context, info peer.AddrInfo, req *pb.BTPeersRequest) (_ *pb.BTPeersResponse, via netip.Addr, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.QueryTimeout)
	defer cancel()
	if len(info.Addrs) > 0 {
		b.host.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.TempAddrTTL)
	}
	// A leaf behind a NAT is reached through its supernode's relay (a
	// limited connection) until DCUtR upgrades it to a direct one.
	s, err := b.host.NewStream(network.WithAllowLimitedConn(ctx, "bt-peers"), info.ID, protocol.BTPeersProtocol)
	if err != nil {
		return nil, via, err
	}
	defer func() {
		if err != nil {
			s.Reset()
		} else {
			s.Close()
		}
	}()
	stop := context.AfterFunc(ctx, func() { s.Reset() })
	defer stop()
	deadline, _ := ctx.Deadline() // QueryTimeout set one
	_ = s.SetDeadline(deadline)
	if err := protocol.WriteMsg(s, req); err != nil {
		return nil, via, err
	}
	_ = s.CloseWrite()
	frame, err := b.cfg.Limits.NewReader(s).ReadFrame()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, via, err
	}
	resp, err := b.cfg.Limits.DecodeBTPeersResponse(frame)
	if err != nil {
		return nil, via, err
	}
	if resp.Error != "" {
		return nil, via, fmt.Errorf("btbridge: %s answered: %s", info.ID, resp.Error)
	}
	// The IP of a /p2p-circuit address is the relay's, not the leaf's.
	if ra := s.Conn().RemoteMultiaddr(); !isRelayed(ra) {
		if ip, err := manet.ToIP(ra); err == nil {
			if a, ok := netip.AddrFromSlice(ip); ok {
				via = a.Unmap()
			}
		}
	}
	return resp, via, nil
}

// handleStream serves bt-peers requests, sequentially, on one stream.
func (b *Bridge) handleStream(s network.Stream) {
	if !b.enter() {
		s.Reset()
		return
	}
	defer b.wg.Done()
	select {
	case b.inbound <- struct{}{}:
		defer func() { <-b.inbound }()
	default:
		s.Reset()
		return
	}
	stop := context.AfterFunc(b.ctx, func() { s.Reset() })
	defer stop()
	r := b.cfg.Limits.NewReader(s)
	for range maxRequestsPerStream {
		_ = s.SetDeadline(time.Now().Add(b.cfg.ServeTimeout))
		frame, err := r.ReadFrame()
		if errors.Is(err, io.EOF) {
			s.Close()
			return
		}
		if err != nil {
			if errors.Is(err, protocol.ErrMessageTooLarge) || errors.Is(err, protocol.ErrMalformed) {
				_ = protocol.WriteMsg(s, &pb.BTPeersResponse{Error: b.cfg.Limits.Truncate(err.Error())})
			}
			s.Reset()
			return
		}
		resp := b.serveFrame(frame, s.Conn().RemotePeer())
		if err := protocol.WriteMsg(s, resp); err != nil {
			s.Reset()
			return
		}
	}
	s.Close()
}

// serveFrame answers one encoded request from leaf from.
func (b *Bridge) serveFrame(frame []byte, from peer.ID) *pb.BTPeersResponse {
	req, err := b.cfg.Limits.DecodeBTPeersRequest(frame)
	if err != nil {
		return &pb.BTPeersResponse{Error: b.cfg.Limits.Truncate(err.Error())}
	}
	return b.serveRequest(req, from)
}

// serveRequest answers a validated request from local state: a swarm for
// each requested infohash this leaf has live clients for, with counts of
// all of them and a random sample of at most req.Limit (leechers first for
// a seeder), at most MaxBTPeers peers in all.
func (b *Bridge) serveRequest(req *pb.BTPeersRequest, from peer.ID) *pb.BTPeersResponse {
	resp := &pb.BTPeersResponse{}
	budget, entries := protocol.MaxBTPeers, protocol.MaxBTCompletionEntries
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.cfg.Now()
	for i, raw := range req.InfoHashes {
		var ih bttracker.InfoHash
		copy(ih[:], raw)
		if i < len(req.Completed) {
			b.done.merge(ih, from, req.Completed[i], now)
		}
		downloaded := b.done.total(ih)
		t := b.torrents[ih]
		if t == nil && downloaded == 0 {
			continue
		}
		sw := &pb.BTSwarm{InfoHash: raw, Downloaded: uint32(min(downloaded, 1<<31))}
		sw.Completions = b.done.entries(ih, min(entries, protocol.MaxBTCompletionLeaves))
		entries -= len(sw.Completions)
		if t == nil {
			resp.Swarms = append(resp.Swarms, sw)
			continue
		}
		seeders, leechers := t.liveCounts(now)
		sw.Seeders, sw.Leechers = uint32(seeders), uint32(leechers)
		live := make([]*pb.BTPeer, 0, len(t.clients))
		for id, c := range t.live(now) {
			live = append(live, &pb.BTPeer{Ip: b.reportIP(c.addr.Addr()).AsSlice(), Port: uint32(c.addr.Port()),
				Seeder: c.seeder, PeerId: slices.Clone(id[:])})
		}
		if len(live) == 0 && downloaded == 0 {
			continue
		}
		rand.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
		if req.Seeder {
			slices.SortStableFunc(live, func(x, y *pb.BTPeer) int {
				switch {
				case x.Seeder == y.Seeder:
					return 0
				case !x.Seeder:
					return -1
				}
				return 1
			})
		}
		n := min(len(live), int(req.Limit), budget)
		sw.Peers = live[:n]
		budget -= n
		resp.Swarms = append(resp.Swarms, sw)
	}
	return resp
}

// reportIP is the address given to other leaves for a local client.
func (b *Bridge) reportIP(ip netip.Addr) netip.Addr {
	if (ip.IsLoopback() || ip.IsUnspecified()) && b.cfg.ExternalIP.IsValid() {
		return b.cfg.ExternalIP
	}
	return ip
}

// isRelayed reports whether a is a /p2p-circuit address.
func isRelayed(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}
