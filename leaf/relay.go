package leaf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/client"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/multiformats/go-multistream"

	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

// RelayMode says when a leaf reserves Circuit Relay v2 slots on the
// supernodes it is attached to.
type RelayMode string

// Relay modes.
const (
	// RelayAuto reserves when a dial-back by the primary says the leaf is
	// not reachable (behind a NAT or firewall), and drops its slots when a
	// later dial-back says it is.
	RelayAuto RelayMode = "auto"
	// RelayAlways reserves whatever the dial-back says.
	RelayAlways RelayMode = "always"
	// RelayOff never reserves.
	RelayOff RelayMode = "off"
)

// ErrBadRelayMode: not one of auto, always, off.
var ErrBadRelayMode = errors.New("leaf: relay mode must be auto, always or off")

// ParseRelayMode parses auto, always or off.
func ParseRelayMode(s string) (RelayMode, error) {
	switch m := RelayMode(s); m {
	case RelayAuto, RelayAlways, RelayOff:
		return m, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadRelayMode, s)
}

// Reachability is what the last dial-back found.
type Reachability string

// Reachability values.
const (
	ReachUnknown Reachability = "unknown"
	ReachPublic  Reachability = "public"  // a dial-back reached our listener
	ReachPrivate Reachability = "private" // it did not: NAT or firewall
)

// RelayConfig configures how a leaf behind a NAT stays reachable: it
// reserves a slot on its primary and backup supernodes (go-libp2p's relay
// v2 client) and announces the /p2p-circuit addresses through them, so
// lookups hand those out and peers reach it through its supernodes; DCUtR
// (libp2p.EnableHolePunching on the host) then upgrades such connections
// to direct ones where the NATs allow.
type RelayConfig struct {
	// Mode: auto, always or off.
	Mode RelayMode
	// CheckInterval: how often the primary is asked for a dial-back again.
	CheckInterval time.Duration
	// Probe measures reachability with supernode p; nil: our dial-back
	// probe (election/probe.DialBack), served by supernodes and nodes.
	Probe func(ctx context.Context, h host.Host, p peer.ID) (reachable bool, err error)
}

// DefaultRelayConfig relays only when needed and re-checks reachability
// every 10 minutes.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{
		Mode:          RelayAuto,        // slots only while a dial-back fails
		CheckInterval: 10 * time.Minute, // NAT mappings change rarely; a dial-back is a connection
	}
}

func (c RelayConfig) validate() error {
	if _, err := ParseRelayMode(string(c.Mode)); err != nil {
		return fmt.Errorf("%w: Relay.Mode: %w", ErrInvalidConfig, err)
	}
	if c.CheckInterval <= 0 {
		return fmt.Errorf("%w: Relay.CheckInterval must be > 0", ErrInvalidConfig)
	}
	return nil
}

// maxCircuitAddrsPerRelay bounds the addresses announced through one relay.
const maxCircuitAddrsPerRelay = 2

// RelayStatus is a snapshot of the leaf's reachability and relay slots.
type RelayStatus struct {
	Mode         RelayMode
	Reachability Reachability
	CheckedAt    time.Time
	CheckedBy    peer.ID
	Slots        []RelaySlot
}

// RelaySlot is one reservation on a supernode.
type RelaySlot struct {
	Relay   peer.ID
	Expires time.Time
	Addrs   []ma.Multiaddr // our /p2p-circuit addresses through it
	Err     string         // the last reservation failure, if any
}

// relayKeeper holds the leaf's relay reservations.
type relayKeeper struct {
	cfg      RelayConfig
	h        host.Host
	measure  func(ctx context.Context, p peer.ID) (reachable bool, err error)
	hb       time.Duration
	logDebug func(msg string, args ...any)
	poke     func()
	ctx      context.Context
	wg       sync.WaitGroup
	notif    *network.NotifyBundle

	mu        sync.Mutex
	reach     Reachability
	checkedAt time.Time
	checkedBy peer.ID
	checking  bool
	noProbe   bool // the last supernode asked serves no dial-back probe
	slots     map[peer.ID]*relaySlot
	version   uint64 // bumped whenever the circuit addresses change
	announced uint64 // the version last handed to a re-announcement
}

type relaySlot struct {
	info    peer.AddrInfo
	addrs   []ma.Multiaddr
	expires time.Time
	renewAt time.Time
	retryAt time.Time
	busy    bool
	err     error
}

func newRelayKeeper(ctx context.Context, h host.Host, cfg Config, poke func()) *relayKeeper {
	rc := cfg.Relay
	k := &relayKeeper{cfg: rc, h: h, hb: cfg.HeartbeatInterval, logDebug: cfg.Logger.Debug, poke: poke, ctx: ctx,
		reach: ReachUnknown, slots: make(map[peer.ID]*relaySlot)}
	k.measure = func(ctx context.Context, p peer.ID) (bool, error) {
		if rc.Probe != nil {
			return rc.Probe(ctx, h, p)
		}
		_, err := probe.DialBack(ctx, h, p, cfg.Limits)
		if errors.Is(err, probe.ErrUnreachable) {
			return false, nil
		}
		return err == nil, err
	}
	// The relay drops a reservation when the leaf's last connection to it
	// closes: renew at once after a reconnection.
	k.notif = &network.NotifyBundle{DisconnectedF: func(n network.Network, c network.Conn) {
		p := c.RemotePeer()
		if n.Connectedness(p) == network.Connected {
			return
		}
		k.mu.Lock()
		if s := k.slots[p]; s != nil {
			s.renewAt = time.Time{}
		}
		k.mu.Unlock()
	}}
	h.Network().Notify(k.notif)
	return k
}

func (k *relayKeeper) close() {
	k.h.Network().StopNotify(k.notif)
	k.wg.Wait()
}

// maintain runs on the agent's maintenance loop with the attached
// supernodes, primary first. It starts reachability checks and
// reservations in the background and reports whether the circuit
// addresses changed since they were last announced (the caller
// re-announces).
func (k *relayKeeper) maintain(attached []peer.AddrInfo) bool {
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	switch k.cfg.Mode {
	case RelayOff:
		k.reach = ReachUnknown
	case RelayAlways:
	case RelayAuto:
		if len(attached) > 0 && !k.checking && now.Sub(k.checkedAt) >= k.checkEvery() {
			k.checking = true
			k.wg.Add(1)
			go k.check(attached[0].ID)
		}
	}
	want := k.cfg.Mode == RelayAlways || (k.cfg.Mode == RelayAuto && k.reach == ReachPrivate)
	keep := map[peer.ID]bool{}
	if want {
		for _, info := range attached {
			keep[info.ID] = true
		}
	}
	for id, s := range k.slots {
		if !keep[id] && !s.busy {
			if len(s.addrs) > 0 {
				k.version++
			}
			delete(k.slots, id)
		}
	}
	for _, info := range attached {
		if !keep[info.ID] {
			continue
		}
		s := k.slots[info.ID]
		if s == nil {
			s = &relaySlot{info: info}
			k.slots[info.ID] = s
		}
		if s.busy || now.Before(s.retryAt) || (!s.renewAt.IsZero() && now.Before(s.renewAt)) {
			continue
		}
		s.busy = true
		k.wg.Add(1)
		go k.reserve(info)
	}
	changed := k.version != k.announced
	k.announced = k.version
	return changed
}

// checkPeriod is how often maintain must run for the reachability checks
// (auto mode; 0: none, or one is due now).
func (k *relayKeeper) checkPeriod() time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cfg.Mode != RelayAuto {
		return 0
	}
	return k.checkEvery()
}

// checkEvery: the configured interval once measured, a few heartbeats
// while the last attempt failed.
func (k *relayKeeper) checkEvery() time.Duration {
	if k.checkedAt.IsZero() {
		return 0
	}
	if k.reach == ReachUnknown && !k.noProbe {
		return min(k.cfg.CheckInterval, 5*k.hb)
	}
	return k.cfg.CheckInterval
}

func (k *relayKeeper) check(p peer.ID) {
	defer k.wg.Done()
	ctx, cancel := context.WithTimeout(k.ctx, 15*time.Second)
	reachable, err := k.measure(ctx, p)
	cancel()
	k.mu.Lock()
	k.checking = false
	k.checkedAt = time.Now()
	prev := k.reach
	k.noProbe = errors.Is(err, multistream.ErrNotSupported[libp2pprotocol.ID]{})
	if err != nil {
		k.logDebug("reachability check failed", "peer", p, "err", err)
	} else {
		k.checkedBy = p
		k.reach = ReachPublic
		if !reachable {
			k.reach = ReachPrivate
		}
	}
	cur := k.reach
	k.mu.Unlock()
	if cur != prev {
		k.logDebug("reachability", "was", prev, "now", cur, "verified_by", p)
		k.poke()
	}
}

func (k *relayKeeper) reserve(info peer.AddrInfo) {
	defer k.wg.Done()
	ctx, cancel := context.WithTimeout(k.ctx, 10*time.Second)
	rsvp, err := client.Reserve(ctx, k.h, info)
	cancel()
	var addrs []ma.Multiaddr
	if err == nil {
		addrs = circuitAddrs(info.ID, rsvp.Addrs, k.connAddrs(info.ID))
		if len(addrs) == 0 {
			err = errors.New("no address to reach the relay at")
		}
	}
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.slots[info.ID]
	if s == nil { // dropped meanwhile
		return
	}
	s.busy, s.err = false, err
	if err != nil {
		k.logDebug("relay reservation failed", "relay", info.ID, "err", err)
		s.retryAt = now.Add(10 * k.hb)
		s.renewAt, s.expires = time.Time{}, time.Time{}
		if len(s.addrs) > 0 {
			s.addrs = nil
			k.version++
		}
		return
	}
	if !slices.EqualFunc(s.addrs, addrs, ma.Multiaddr.Equal) {
		s.addrs = addrs
		k.version++
		k.poke()
	}
	s.expires = rsvp.Expiration
	s.renewAt = now.Add(rsvp.Expiration.Sub(now) / 2)
}

// connAddrs are the addresses this host reaches p at now (not relayed).
func (k *relayKeeper) connAddrs(p peer.ID) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, c := range k.h.Network().ConnsToPeer(p) {
		if a := c.RemoteMultiaddr(); !isCircuit(a) {
			out = append(out, a)
		}
	}
	return out
}

// circuitAddrs builds our /p2p-circuit addresses through relay from the
// addresses it vouched for in the reservation (its public ones), else
// from the ones we reach it at.
func circuitAddrs(relay peer.ID, vouched, reached []ma.Multiaddr) []ma.Multiaddr {
	src := vouched
	if len(src) == 0 {
		src = reached
	}
	suffix, err := ma.NewMultiaddr("/p2p/" + relay.String() + "/p2p-circuit")
	if err != nil {
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range src {
		if isCircuit(a) {
			continue
		}
		transport, id := peer.SplitAddr(a)
		if transport == nil || (id != "" && id != relay) {
			continue
		}
		c := transport.Encapsulate(suffix)
		if !slices.ContainsFunc(out, c.Equal) {
			out = append(out, c)
		}
		if len(out) == maxCircuitAddrsPerRelay {
			break
		}
	}
	return out
}

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// addrs returns the circuit addresses of every live reservation, primary
// first in the order of attached.
func (k *relayKeeper) addrs(attached []peer.AddrInfo) []ma.Multiaddr {
	now := time.Now()
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []ma.Multiaddr
	for _, info := range attached {
		if s := k.slots[info.ID]; s != nil && now.Before(s.expires) {
			out = append(out, s.addrs...)
		}
	}
	return out
}

func (k *relayKeeper) status() RelayStatus {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := RelayStatus{Mode: k.cfg.Mode, Reachability: k.reach, CheckedAt: k.checkedAt, CheckedBy: k.checkedBy}
	for id, s := range k.slots {
		rs := RelaySlot{Relay: id, Expires: s.expires, Addrs: slices.Clone(s.addrs)}
		if s.err != nil {
			rs.Err = s.err.Error()
		}
		st.Slots = append(st.Slots, rs)
	}
	slices.SortFunc(st.Slots, func(a, b RelaySlot) int { return a.Expires.Compare(b.Expires) })
	return st
}

// Relay reports the leaf's reachability and its relay reservations.
func (a *Agent) Relay() RelayStatus { return a.relay.status() }

// relayStatus is the API's view of a RelayStatus: live slots only.
func relayStatus(st RelayStatus) *httpapi.RelayStatus {
	out := &httpapi.RelayStatus{Mode: string(st.Mode), Reachability: string(st.Reachability)}
	if st.CheckedBy != "" {
		out.CheckedBy = st.CheckedBy.String()
	}
	now := time.Now()
	for _, s := range st.Slots {
		if len(s.Addrs) > 0 && now.Before(s.Expires) {
			out.Relays = append(out.Relays, s.Relay.String())
		}
	}
	return out
}
