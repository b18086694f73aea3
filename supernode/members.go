package supernode

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode/membership"
)

// Membership upkeep: this supernode's own signed cert, sessions with the
// others (each verified by a hello over a connection from an address the
// peer's cert names), push-pull gossip that completes every view, and
// failure detection (a session that fails marks its peer down).

// issueCert signs a new cert for this supernode and puts it in the view.
func (n *Node) issueCert(leaving bool) error {
	now := n.clock.Now()
	n.certMu.Lock()
	defer n.certMu.Unlock()
	n.certSeq = max(n.certSeq+1, uint64(now.UnixNano()))
	c := &protocol.SupernodeCert{Peer: n.host.ID(), Addrs: n.certAddrs(), Seq: n.certSeq, Issued: now,
		Expires: now.Add(n.cfg.CertTTL), Leaving: leaving}
	if len(c.Addrs) == 0 {
		return errors.New("supernode: no address to put in a cert")
	}
	env, err := n.cfg.Limits.SignCert(c, n.host.Peerstore().PrivKey(n.host.ID()))
	if err != nil {
		return err
	}
	n.view.SetSelf(c, env)
	n.certEnv = env
	return nil
}

func (n *Node) myCert() []byte {
	n.certMu.Lock()
	defer n.certMu.Unlock()
	return n.certEnv
}

// certAddrs are the host's dialable addresses, at most the limit.
func (n *Node) certAddrs() []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, a := range n.host.Addrs() {
		if manet.IsIPUnspecified(a) {
			continue
		}
		out = append(out, a)
		if len(out) == n.cfg.Limits.MaxAddrsPerPeer {
			break
		}
	}
	return out
}

// client returns an open, hello'd session with supernode p, opening one if
// needed (one dial per peer at a time).
func (n *Node) client(ctx context.Context, p peer.ID) (*peerClient, error) {
	for {
		n.peersMu.Lock()
		if c := n.clients[p]; c != nil && !c.closed() {
			n.peersMu.Unlock()
			return c, nil
		}
		if wait, ok := n.dialing[p]; ok {
			n.peersMu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		done := make(chan struct{})
		n.dialing[p] = done
		n.peersMu.Unlock()
		c, err := n.openSession(ctx, p)
		n.peersMu.Lock()
		delete(n.dialing, p)
		if err == nil && n.isClosed() {
			// Close took the sessions before this one opened: nobody
			// else would close it, and its read loop would hold Close.
			c.close()
			c, err = nil, ErrClosed
		}
		if err == nil {
			n.clients[p] = c
		}
		n.peersMu.Unlock()
		close(done)
		if err != nil {
			if m, ok := n.view.Get(p); ok && m.Verified && !errors.Is(err, context.Canceled) {
				if n.view.MarkDown(p) {
					n.dht.RoutingTable().RemovePeer(p)
					n.cfg.Logger.Info("supernode unreachable; out of placement", "peer", p, "err", err)
				}
			}
			return nil, err
		}
		return c, nil
	}
}

// openSession opens a stream to p and exchanges certs.
func (n *Node) openSession(ctx context.Context, p peer.ID) (*peerClient, error) {
	if n.isClosed() {
		return nil, ErrClosed
	}
	if m, ok := n.view.Get(p); ok && len(n.host.Network().ConnsToPeer(p)) == 0 {
		n.host.Peerstore().AddAddrs(p, m.Addrs, n.cfg.CertTTL)
	}
	s, err := n.host.NewStream(ctx, p, protocol.PeerProtocol)
	if err != nil {
		return nil, err
	}
	c := n.newPeerClient(s)
	resp, err := c.call(ctx, &pb.PeerRequest{Body: &pb.PeerRequest_Hello{Hello: &pb.HelloRequest{Cert: n.myCert()}}})
	if err != nil {
		c.close()
		return nil, fmt.Errorf("hello to %s: %w", p, err)
	}
	m, _, err := n.view.Learn(resp.GetHello().GetCert(), n.clock.Now())
	if err != nil {
		c.close()
		return nil, fmt.Errorf("hello from %s: %w", p, err)
	}
	if m.ID != p {
		c.close()
		return nil, fmt.Errorf("%w: %s answered with the cert of %s", protocol.ErrSignerMismatch, p, m.ID)
	}
	n.admitted(p, s.Conn().RemoteMultiaddr())
	return c, nil
}

// admitted verifies p's address against the connection it answered on and,
// when that holds, lets it into kad-dht's routing table.
func (n *Node) admitted(p peer.ID, observed ma.Multiaddr) {
	if err := n.view.Verify(p, observed); err != nil {
		n.cfg.Logger.Debug("supernode not verified", "peer", p, "err", err)
		return
	}
	_, _ = n.dht.RoutingTable().TryAddPeer(p, true, false)
}

// serveHello answers a hello: learn the caller's cert (it must be the
// caller's own) and present ours.
func (n *Node) serveHello(s network.Stream, h *pb.HelloRequest) *pb.PeerResponse {
	remote := s.Conn().RemotePeer()
	m, _, err := n.view.Learn(h.GetCert(), n.clock.Now())
	if err == nil && m.ID != remote {
		err = fmt.Errorf("%w: %s presented the cert of %s", protocol.ErrSignerMismatch, remote, m.ID)
	}
	if err != nil {
		return &pb.PeerResponse{Status: protocol.StatusOf(err), Error: n.cfg.Limits.Truncate(err.Error())}
	}
	n.admitted(remote, s.Conn().RemoteMultiaddr())
	n.connectSoon(remote)
	return &pb.PeerResponse{Body: &pb.PeerResponse_Hello{Hello: &pb.HelloResponse{Cert: n.myCert()}}}
}

// connectSoon opens our own session to p in the background if there is
// none (sessions are one-way; each side talks on its own).
func (n *Node) connectSoon(p peer.ID) {
	n.peersMu.Lock()
	_, dialing := n.dialing[p]
	c := n.clients[p]
	n.peersMu.Unlock()
	if dialing || (c != nil && !c.closed()) {
		return
	}
	n.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, _ = n.client(ctx, p)
	})
}

// gossipLoop completes the view by push-pull anti-entropy with a random
// member every GossipInterval, and opens sessions with members learned but
// not yet verified.
func (n *Node) gossipLoop() {
	defer n.wg.Done()
	t := n.clock.Ticker(n.cfg.GossipInterval)
	defer t.Stop()
	certEvery := max(1, int(n.cfg.CertTTL/(3*n.cfg.GossipInterval)))
	for tick := 1; ; tick++ {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		now := n.clock.Now()
		if tick%certEvery == 0 {
			if err := n.issueCert(n.steppingDown()); err != nil {
				n.cfg.Logger.Warn("re-issuing supernode cert", "err", err)
			}
		}
		for _, p := range n.view.Expire(now) {
			n.dropClient(p)
			n.dht.RoutingTable().RemovePeer(p)
		}
		n.gossipOnce()
		n.connectUnverified(now)
	}
}

// gossipOnce exchanges views with one random usable member.
func (n *Node) gossipOnce() {
	ids := n.view.Snapshot().IDs(n.clock.Now())
	ids = removeID(ids, n.host.ID())
	if len(ids) == 0 {
		return
	}
	n.gossipWith(ids[rand.IntN(len(ids))])
}

func (n *Node) gossipWith(p peer.ID) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	c, err := n.client(ctx, p)
	if err != nil {
		return
	}
	req := &pb.GossipRequest{Digest: n.view.Digest(n.cfg.Limits.MaxGossipDigest), Certs: [][]byte{n.myCert()}}
	resp, err := c.call(ctx, &pb.PeerRequest{Body: &pb.PeerRequest_Gossip{Gossip: req}})
	if err != nil {
		n.cfg.Logger.Debug("gossip failed", "peer", p, "err", err)
		return
	}
	n.learnCerts(resp.GetGossip().GetCerts())
}

// learnCerts offers gossiped certs to the view.
func (n *Node) learnCerts(certs [][]byte) {
	now := n.clock.Now()
	for _, c := range certs {
		if _, _, err := n.view.Learn(c, now); err != nil {
			n.cfg.Logger.Debug("gossiped cert refused", "err", err)
		}
	}
}

// connectUnverified opens sessions, a few at a time, with members known
// only from gossip (or marked down), so they are verified (or found dead).
func (n *Node) connectUnverified(now time.Time) {
	ms := n.view.Unverified(now)
	rand.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	for _, m := range ms[:min(len(ms), maxConnectsPerRound)] {
		n.connectSoon(m.ID)
	}
}

// maxConnectsPerRound bounds the session attempts one gossip round starts.
const maxConnectsPerRound = 8

// pushCert tells every usable member our cert now (a step-down must leave
// placement at once, not within a gossip round).
func (n *Node) pushCert() {
	ids := removeID(n.view.Snapshot().IDs(n.clock.Now()), n.host.ID())
	cert := n.myCert()
	for _, p := range ids {
		n.goBackground(func(ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if c, err := n.client(ctx, p); err == nil {
				_, _ = c.call(ctx, &pb.PeerRequest{Body: &pb.PeerRequest_Gossip{Gossip: &pb.GossipRequest{Certs: [][]byte{cert}}}})
			}
		})
	}
}

// onDisconnect reacts to the last connection to a member closing: its
// session is gone; if it cannot be reopened it is marked down.
func (n *Node) onDisconnect(p peer.ID) {
	if m, ok := n.view.Get(p); !ok || p == n.host.ID() || !m.Verified {
		return
	}
	n.dropClient(p)
	n.goBackground(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		_, _ = n.client(ctx, p) // marks p down if it fails
	})
}

func (n *Node) dropClient(p peer.ID) {
	n.peersMu.Lock()
	c := n.clients[p]
	delete(n.clients, p)
	n.peersMu.Unlock()
	if c != nil {
		c.close()
	}
}

// Members returns this supernode's membership view.
func (n *Node) Members() []membership.Member { return n.view.Members() }

// MemberCount is the number of supernodes usable for placement (this one
// included).
func (n *Node) MemberCount() int { return n.view.Snapshot().Size(n.clock.Now()) }

func removeID(ids []peer.ID, p peer.ID) []peer.ID {
	out := ids[:0:0]
	for _, q := range ids {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}
