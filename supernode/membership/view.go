// Package membership is a supernode's view of every other supernode, from
// which it places records without a DHT walk: supernodes are a small
// fraction of peers (Gnutella: ~30 leaves per ultrapeer), so each keeps the
// complete set, as OneHop does (Gupta, Liskov, Rodrigues, NSDI 2004), and
// computes the r closest to a key (kad-dht's XOR metric) locally.
//
// A member enters the view with its signed SupernodeCert (from itself, or
// gossiped by others) and becomes usable for placement only once a session
// with it verified that it answers at an address its cert names (the
// address's network prefix is then its diversity group). Replica sets hold
// at most one member per group, so identities bought cheaply on one network
// cannot fill a CID's replica set. A cert that expires, a member that
// announces it is leaving, and a member marked down (its sessions failed)
// leave placement at once.
//
// The view is safe for concurrent use; Replicas reads an immutable snapshot
// and takes no lock.
package membership

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Config configures a View.
type Config struct {
	// Self is this supernode.
	Self peer.ID
	// PrefixBits4 and PrefixBits6 set the diversity groups: members whose
	// verified address shares this many leading bits are one group, and a
	// replica set holds one member per group (/24 and /48 on the Internet;
	// /32 on a loopback testnet). 0 turns diversity off (each member is its
	// own group): for tests whose hosts share one address.
	PrefixBits4, PrefixBits6 int
	// MaxMembers bounds the view: beyond it a new cert takes the place of a
	// member no session verified, or is refused.
	MaxMembers int
	// Limits bound certs.
	Limits protocol.Limits
}

// Member is a snapshot of one supernode in the view.
type Member struct {
	ID       peer.ID
	Addrs    []ma.Multiaddr
	Cert     []byte // its signed SupernodeCert
	Seq      uint64
	Expires  time.Time
	Leaving  bool
	Verified bool   // a session verified it at an address of its cert
	Group    string // diversity group of the verified address
	Down     bool   // its sessions failed; out of placement until it answers again
}

// Usable reports whether m takes records at now.
func (m *Member) Usable(now time.Time) bool {
	return m.Verified && !m.Down && !m.Leaving && m.Expires.After(now)
}

// View is the membership view.
type View struct {
	cfg Config

	mu      sync.Mutex
	members map[peer.ID]*Member
	version uint64

	snap atomic.Pointer[Snapshot]
}

// New returns an empty view.
func New(cfg Config) *View {
	if cfg.MaxMembers <= 0 {
		cfg.MaxMembers = 4096
	}
	v := &View{cfg: cfg, members: make(map[peer.ID]*Member)}
	v.snap.Store(&Snapshot{})
	return v
}

// SetSelf puts (or refreshes) this supernode's own cert: self is always
// verified.
func (v *View) SetSelf(cert *protocol.SupernodeCert, envelope []byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.fromCert(cert, envelope)
	m.Verified = true
	m.Group = v.group(cert.Peer, firstIP(cert.Addrs))
	v.members[cert.Peer] = m
	v.changed()
}

// Learn offers a signed cert (gossiped, or presented in a hello). It
// reports the member and whether the view changed. A cert older than the
// one held changes nothing; a newer one keeps the member's verification
// only if its addresses still include the verified one.
func (v *View) Learn(envelope []byte, now time.Time) (Member, bool, error) {
	c, err := v.cfg.Limits.OpenCert(envelope, now)
	if err != nil {
		return Member{}, false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c.Peer == v.cfg.Self {
		return *v.members[c.Peer], false, nil // our own cert is ours to set
	}
	old := v.members[c.Peer]
	if old != nil && old.Seq >= c.Seq {
		return *old, false, nil
	}
	if old == nil && len(v.members) >= v.cfg.MaxMembers && !v.evictUnverifiedLocked() {
		return Member{}, false, fmt.Errorf("membership: view full (%d members)", v.cfg.MaxMembers)
	}
	m := v.fromCert(c, envelope)
	if old != nil && old.Verified {
		for _, a := range c.Addrs {
			if v.group(c.Peer, ipOf(a)) == old.Group {
				m.Verified, m.Group, m.Down = true, old.Group, old.Down
				break
			}
		}
	}
	v.members[c.Peer] = m
	v.changed()
	return *m, true, nil
}

// evictUnverifiedLocked drops one member no session has verified, to make
// room for a cert: certs cost an attacker a key and a signature each, so
// unverified ones must never keep a supernode out of a full view. It
// reports whether it found one; v.mu is held.
func (v *View) evictUnverifiedLocked() bool {
	for p, m := range v.members {
		if !m.Verified && p != v.cfg.Self {
			delete(v.members, p)
			return true
		}
	}
	return false
}

// Verify marks p verified: a session with p runs over a connection from
// observed, whose IP one of p's cert addresses must name. It returns an
// error (and changes nothing) otherwise.
func (v *View) Verify(p peer.ID, observed ma.Multiaddr) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.members[p]
	if m == nil {
		return fmt.Errorf("membership: %s has no cert here", p)
	}
	ip := ipOf(observed)
	if ip == nil {
		return fmt.Errorf("membership: %s: no IP in %s", p, observed)
	}
	named := slices.ContainsFunc(m.Addrs, func(a ma.Multiaddr) bool { return ip.Equal(ipOf(a)) })
	if !named && ip.IsLoopback() {
		// One host: a dial that could not bind its listen address (its
		// 4-tuple still in TIME_WAIT after a restart) leaves from 127.0.0.1
		// although the cert names 127.0.x.y. The group is the cert's.
		if i := slices.IndexFunc(m.Addrs, func(a ma.Multiaddr) bool { c := ipOf(a); return c != nil && c.IsLoopback() }); i >= 0 {
			ip, named = ipOf(m.Addrs[i]), true
		}
	}
	if !named {
		return fmt.Errorf("membership: %s answers from %s, which its cert does not name", p, ip)
	}
	g := v.group(p, ip)
	if m.Verified && !m.Down && m.Group == g {
		return nil
	}
	m.Verified, m.Group, m.Down = true, g, false
	v.changed()
	return nil
}

// MarkDown takes p out of placement until MarkUp or Verify (its sessions
// failed, or it refused us); it reports whether that changed anything.
func (v *View) MarkDown(p peer.ID) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.members[p]
	if m == nil || m.Down || p == v.cfg.Self {
		return false
	}
	m.Down = true
	v.changed()
	return true
}

// MarkUp puts a verified p back into placement.
func (v *View) MarkUp(p peer.ID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if m := v.members[p]; m != nil && m.Down {
		m.Down = false
		v.changed()
	}
}

// Expire drops members whose cert expired (never self) and returns them.
func (v *View) Expire(now time.Time) []peer.ID {
	v.mu.Lock()
	defer v.mu.Unlock()
	var gone []peer.ID
	for p, m := range v.members {
		if p != v.cfg.Self && !m.Expires.After(now) {
			delete(v.members, p)
			gone = append(gone, p)
		}
	}
	if len(gone) > 0 {
		v.changed()
	}
	return gone
}

// Get returns p's entry.
func (v *View) Get(p peer.ID) (Member, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := v.members[p]
	if m == nil {
		return Member{}, false
	}
	return *m, true
}

// Members returns every entry, in no order.
func (v *View) Members() []Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]Member, 0, len(v.members))
	for _, m := range v.members {
		out = append(out, *m)
	}
	return out
}

// Unverified returns members learned but not yet verified (or down), other
// than self: the ones to open sessions with.
func (v *View) Unverified(now time.Time) []Member {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []Member
	for p, m := range v.members {
		if p != v.cfg.Self && (!m.Verified || m.Down) && m.Expires.After(now) && !m.Leaving {
			out = append(out, *m)
		}
	}
	return out
}

// Digest summarises the view for gossip: ID and cert seq of every member.
func (v *View) Digest(limit int) []*pb.MemberDigest {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]*pb.MemberDigest, 0, min(limit, len(v.members)))
	for p, m := range v.members {
		if len(out) == limit {
			break
		}
		out = append(out, &pb.MemberDigest{PeerId: []byte(p), Seq: m.Seq})
	}
	return out
}

// Newer returns, up to limit, the certs of members a peer whose digest is
// given lacks or holds older, in random order. Only members a session
// verified here are passed on: a cert anyone can mint for an address where
// nothing answers stays in the view it was pushed into (and is the first
// evicted when that view is full); a real supernode is verified by the
// one it joined through, whose gossip spreads it.
func (v *View) Newer(digest []*pb.MemberDigest, limit int, now time.Time) [][]byte {
	has := make(map[string]uint64, len(digest))
	for _, d := range digest {
		has[string(d.PeerId)] = d.Seq
	}
	v.mu.Lock()
	var verified [][]byte
	for p, m := range v.members {
		if seq, ok := has[string(p)]; (ok && seq >= m.Seq) || !m.Expires.After(now) {
			continue
		}
		if m.Verified && !m.Down {
			verified = append(verified, m.Cert)
		}
	}
	v.mu.Unlock()
	rand.Shuffle(len(verified), func(i, j int) { verified[i], verified[j] = verified[j], verified[i] })
	return verified[:min(limit, len(verified))]
}

// Version counts the changes that can move records; equal versions mean
// equal placement.
func (v *View) Version() uint64 { return v.Snapshot().Version }

// Snapshot returns the current placement snapshot.
func (v *View) Snapshot() *Snapshot { return v.snap.Load() }

func (v *View) fromCert(c *protocol.SupernodeCert, envelope []byte) *Member {
	return &Member{ID: c.Peer, Addrs: c.Addrs, Cert: envelope, Seq: c.Seq, Expires: c.Expires, Leaving: c.Leaving}
}

// changed rebuilds the placement snapshot; v.mu is held.
func (v *View) changed() {
	v.version++
	s := &Snapshot{Version: v.version, self: v.cfg.Self}
	for _, m := range v.members {
		if m.Verified && !m.Down && !m.Leaving {
			exp := m.Expires
			if m.ID == v.cfg.Self {
				exp = farFuture // we know we are alive; our cert is re-issued
			}
			s.members = append(s.members, placed{id: m.ID, key: kb.ConvertPeerID(m.ID), group: m.Group, expires: exp})
		}
	}
	slices.SortFunc(s.members, func(a, b placed) int { return bytes.Compare(a.key, b.key) })
	v.snap.Store(s)
}

var farFuture = time.Unix(1<<40, 0)

// group is the diversity group of ip for member p.
func (v *View) group(p peer.ID, ip net.IP) string {
	if ip == nil {
		return "peer:" + string(p)
	}
	bits, size := v.cfg.PrefixBits4, 32
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	} else {
		bits, size = v.cfg.PrefixBits6, 128
	}
	if bits <= 0 {
		return "peer:" + string(p)
	}
	return ip.Mask(net.CIDRMask(min(bits, size), size)).String() + fmt.Sprintf("/%d", min(bits, size))
}

func ipOf(a ma.Multiaddr) net.IP {
	if a == nil {
		return nil
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return nil
	}
	return ip
}

func firstIP(as []ma.Multiaddr) net.IP {
	for _, a := range as {
		if ip := ipOf(a); ip != nil && !ip.IsUnspecified() {
			return ip
		}
	}
	return nil
}
