package supernode

import (
	"fmt"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
)

// RelayConfig bounds the Circuit Relay v2 service a supernode runs for the
// leaves attached to it, so that a leaf behind a NAT is reachable through
// its supernodes (Skype's supernodes relayed for clients behind NAT). The
// service is go-libp2p's own (p2p/protocol/circuitv2/relay); this only
// decides who may use it and how much. Start from DefaultRelayConfig.
type RelayConfig struct {
	// Disabled turns the relay service off.
	Disabled bool
	// MaxDuration: a relayed connection is reset this long after it opened.
	MaxDuration time.Duration
	// MaxBytes: a relayed connection is reset after this many bytes in
	// either direction.
	MaxBytes int64
	// ReservationTTL: a reservation lapses unless the leaf renews it.
	ReservationTTL time.Duration
	// MaxReservations at once (0: the supernode's MaxLeaves).
	MaxReservations int
	// MaxCircuits: relayed connections open at once per peer, either end.
	MaxCircuits int
	// MaxReservationsPerIP: reservations from one IP address (one home
	// router's masquerading NAT).
	MaxReservationsPerIP int
	// MaxReservationsPerPrefix: reservations from one network prefix
	// (Config.PrefixBits4/6: /24 and /48 by default).
	MaxReservationsPerPrefix int
}

// DefaultRelayConfig: small caps. A relayed connection carries bt-peers
// queries and the DCUtR exchange that upgrades it to a direct one, not
// bulk data (libp2p's own defaults are 2 min and 128 KiB; a bt-peers answer
// can reach 64 KiB, so the byte cap allows a few).
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{
		MaxDuration:              2 * time.Minute, // libp2p's own: time for a query and a DCUtR upgrade
		MaxBytes:                 1 << 20,         // a few 64 KiB bt-peers answers
		ReservationTTL:           time.Hour,       // libp2p's own; leaves renew before it lapses
		MaxCircuits:              16,              // libp2p's own per-peer cap
		MaxReservationsPerIP:     8,               // libp2p's own: a household behind one NAT
		MaxReservationsPerPrefix: 32,              // libp2p's per-ASN cap, per /24 here
		// MaxReservations 0: one per leaf slot (Config.MaxLeaves).
	}
}

// maxReservations is MaxReservations, or the supernode's leaf capacity
// when it is 0.
func (c RelayConfig) maxReservations(maxLeaves int) int {
	if c.MaxReservations == 0 {
		return maxLeaves
	}
	return c.MaxReservations
}

func (c RelayConfig) validate() error {
	switch {
	case c.MaxDuration < 0, c.MaxBytes < 0, c.ReservationTTL < 0:
		return fmt.Errorf("%w: Relay durations and byte cap must be ≥ 0", ErrInvalidConfig)
	case c.MaxReservations < 0, c.MaxCircuits < 0, c.MaxReservationsPerIP < 0, c.MaxReservationsPerPrefix < 0:
		return fmt.Errorf("%w: Relay counts must be ≥ 0", ErrInvalidConfig)
	case c.Disabled:
	case c.MaxDuration == 0, c.MaxBytes == 0, c.ReservationTTL == 0:
		return fmt.Errorf("%w: Relay durations and byte cap must be > 0 (start from DefaultRelayConfig)", ErrInvalidConfig)
	case c.MaxCircuits == 0, c.MaxReservationsPerIP == 0, c.MaxReservationsPerPrefix == 0:
		return fmt.Errorf("%w: Relay per-peer, per-IP and per-prefix caps must be ≥ 1 (start from DefaultRelayConfig)", ErrInvalidConfig)
	}
	return nil
}

// startRelay runs go-libp2p's relay v2 service on the node's host, open to
// the node's attached leaves only (relayACL). A nil service means disabled.
func (n *Node) startRelay() (*relay.Relay, error) {
	if n.cfg.Relay.Disabled {
		return nil, nil
	}
	c := n.cfg.Relay
	prefix := func(a ma.Multiaddr) string { return prefixGroup(a, n.cfg.PrefixBits4, n.cfg.PrefixBits6) }
	acl := newRelayACL(n.sess.attached, prefix, c.MaxReservationsPerPrefix, c.ReservationTTL, n.clock.Now)
	rc := relay.DefaultResources()
	rc.Limit = &relay.RelayLimit{Duration: c.MaxDuration, Data: c.MaxBytes}
	rc.ReservationTTL = c.ReservationTTL
	rc.MaxReservations = c.maxReservations(n.cfg.MaxLeaves)
	rc.MaxCircuits = c.MaxCircuits
	rc.MaxReservationsPerIP = c.MaxReservationsPerIP
	// The reservation tells the leaf our public addresses to build its
	// /p2p-circuit addresses from; with none (loopback testnets, LANs) the
	// leaf uses the address it reached us at.
	r, err := relay.New(n.host, relay.WithResources(rc), relay.WithACL(acl))
	if err != nil {
		return nil, fmt.Errorf("supernode: starting the relay service: %w", err)
	}
	return r, nil
}

// relayACL admits reservations from attached leaves only, at most
// perPrefix of them per network prefix, and relays connections only to
// attached leaves: a leaf that detaches (or whose session timed out) is no
// longer reachable through us even before its reservation lapses.
type relayACL struct {
	attached  func(peer.ID) bool
	prefix    func(ma.Multiaddr) string // "": the prefix cap is off
	perPrefix int
	ttl       time.Duration
	now       func() time.Time

	mu     sync.Mutex
	byPeer map[peer.ID]relayGrant
}

type relayGrant struct {
	prefix  string
	expires time.Time
}

func newRelayACL(attached func(peer.ID) bool, prefix func(ma.Multiaddr) string, perPrefix int, ttl time.Duration, now func() time.Time) *relayACL {
	return &relayACL{attached: attached, prefix: prefix, perPrefix: perPrefix, ttl: ttl, now: now, byPeer: make(map[peer.ID]relayGrant)}
}

var _ relay.ACLFilter = (*relayACL)(nil)

// AllowReserve implements relay.ACLFilter. A renewal by the same peer
// replaces its grant; the relay itself keeps one reservation per peer and
// enforces the total and per-IP caps.
func (a *relayACL) AllowReserve(p peer.ID, addr ma.Multiaddr) bool {
	if !a.attached(p) {
		return false
	}
	prefix := a.prefix(addr)
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for q, g := range a.byPeer {
		switch {
		case !now.Before(g.expires) || !a.attached(q):
			delete(a.byPeer, q)
		case q != p && prefix != "" && g.prefix == prefix:
			n++
		}
	}
	if n >= a.perPrefix {
		return false
	}
	a.byPeer[p] = relayGrant{prefix: prefix, expires: now.Add(a.ttl)}
	return true
}

// AllowConnect implements relay.ACLFilter: anyone may reach an attached
// leaf (the relay checks it holds a reservation).
func (a *relayACL) AllowConnect(_ peer.ID, _ ma.Multiaddr, dest peer.ID) bool {
	return a.attached(dest)
}
