package leaf

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	"github.com/multiformats/go-multistream"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Sentinel errors.
var (
	// ErrClosed: the agent was closed.
	ErrClosed = errors.New("leaf: closed")
	// ErrNoSupernode: no supernode could be attached before the deadline.
	ErrNoSupernode = errors.New("leaf: no supernode attached")
)

// Agent is a leaf: it attaches to a primary supernode and m backups, keeps
// its announced objects alive in the overlay, and looks objects up, always
// through its primary. It runs no DHT.
type Agent struct {
	cfg  Config
	host host.Host
	now  func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	notif  *network.NotifyBundle
	relay  *relayKeeper // relay slots while behind a NAT (relay.go)

	sendMu sync.Mutex // orders announcements so seq numbers arrive in order

	mu          sync.Mutex
	primary     *snClient
	backups     []*snClient
	changed     chan struct{} // closed and replaced whenever primary changes
	known       map[peer.ID]peer.AddrInfo
	seen        map[peer.ID]peer.AddrInfo // other peers met (lookup holders): fallback candidates
	failedUntil map[peer.ID]time.Time
	objects     map[cid.Cid]struct{}
	ttl         time.Duration
	lastRefresh time.Time
	lastDiscov  time.Time
	lastSeq     uint64
	failovers   int
	closed      bool
	local       LocalOverlay // set while this process is a supernode
}

// New starts a leaf agent on h. It restores the announced set from the
// data dir and starts attaching in the background; it does not wait for a
// supernode (see WaitAttached).
func New(h host.Host, opts ...Option) (*Agent, error) {
	cfg := DefaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Meter == nil {
		cfg.Meter = &protocol.Meter{}
	}
	objects, err := loadObjects(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:         cfg,
		host:        h,
		now:         time.Now,
		kick:        make(chan struct{}, 1),
		changed:     make(chan struct{}),
		known:       make(map[peer.ID]peer.AddrInfo),
		seen:        make(map[peer.ID]peer.AddrInfo),
		failedUntil: make(map[peer.ID]time.Time),
		objects:     objects,
		ttl:         45 * time.Minute,
	}
	for _, p := range cfg.Supernodes {
		if p.ID != h.ID() {
			a.known[p.ID] = p
		}
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.relay = newRelayKeeper(a.ctx, h, cfg, a.poke)
	a.notif = &network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		if a.isAttached(c.RemotePeer()) {
			a.poke()
		}
	}}
	h.Network().Notify(a.notif)
	a.wg.Add(1)
	go a.run()
	return a, nil
}

// Close detaches from every supernode and stops the agent. The host stays
// open.
func (a *Agent) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	a.relay.close()
	a.host.Network().StopNotify(a.notif)
	a.mu.Lock()
	all := append([]*snClient{}, a.backups...)
	if a.primary != nil {
		all = append([]*snClient{a.primary}, all...)
	}
	a.primary, a.backups = nil, nil
	a.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, c := range all {
		_, _ = c.call(ctx, &pb.Request{Body: &pb.Request_Detach{Detach: &pb.DetachRequest{}}})
		c.close()
	}
	return nil
}

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *Agent) isAttached(p peer.ID) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.primary != nil && a.primary.info.ID == p {
		return true
	}
	return slices.ContainsFunc(a.backups, func(c *snClient) bool { return c.info.ID == p })
}

// run is the agent's maintenance loop: heartbeats, failover, backups,
// discovery and refresh.
func (a *Agent) run() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		a.maintain()
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
	}
}

func (a *Agent) hbTimeout() time.Duration {
	return min(a.cfg.RequestTimeout, 2*a.cfg.HeartbeatInterval)
}

func (a *Agent) maintain() {
	a.mu.Lock()
	primary, backups, local := a.primary, slices.Clone(a.backups), a.local
	refreshDue := len(a.objects) > 0 && a.now().Sub(a.lastRefresh) >= time.Duration(float64(a.ttl)*a.cfg.RefreshFraction)
	a.mu.Unlock()
	if local != nil {
		if refreshDue {
			a.refreshAll("refresh (local supernode)")
		}
		return
	}

	if primary != nil {
		if err := a.heartbeat(primary, true); err != nil {
			a.dropPrimary(primary, err)
			primary = nil
		}
	}
	for _, b := range backups {
		if err := a.heartbeat(b, false); err != nil {
			a.dropBackup(b, err)
		}
	}
	if primary == nil {
		if !a.electPrimary() {
			return
		}
		a.refreshAll("new primary")
	} else if refreshDue {
		defer a.refreshAll("refresh")
	}
	a.fillBackups()
	if a.relay.maintain(a.Supernodes()) {
		a.refreshAll("relay addresses changed")
	}
	a.mu.Lock()
	discover := a.now().Sub(a.lastDiscov) >= a.cfg.DiscoveryInterval
	a.mu.Unlock()
	if discover {
		a.discover()
	}
}

func (a *Agent) heartbeat(c *snClient, primary bool) error {
	ctx, cancel := context.WithTimeout(a.ctx, a.hbTimeout())
	defer cancel()
	hb := &pb.HeartbeatRequest{Primary: primary}
	if c.beats++; c.beats%5 == 1 {
		hb.Supernodes = a.gossip(c.info.ID)
	}
	resp, err := c.call(ctx, &pb.Request{Body: &pb.Request_Heartbeat{Heartbeat: hb}})
	if errors.Is(err, protocol.ErrNotAttached) {
		// The supernode forgot us (restart, session timeout): attach again.
		return a.attach(c, primary)
	}
	if err != nil {
		return err
	}
	c.setLoad(resp.GetHeartbeat().GetLoad())
	return nil
}

func (a *Agent) attach(c *snClient, primary bool) error {
	ctx, cancel := context.WithTimeout(a.ctx, a.hbTimeout())
	defer cancel()
	resp, err := c.call(ctx, &pb.Request{Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: primary, Supernodes: a.gossip(c.info.ID)}}})
	if err != nil {
		return err
	}
	at := resp.GetAttach()
	c.setLoad(at.GetLoad())
	if ttl := time.Duration(at.GetRecordTtlMs()) * time.Millisecond; ttl > 0 && primary {
		a.mu.Lock()
		a.ttl = ttl
		a.mu.Unlock()
	}
	return nil
}

func (a *Agent) dropPrimary(c *snClient, why error) {
	a.mu.Lock()
	if a.primary == c {
		a.primary = nil
		a.failovers++
		a.failedUntil[c.info.ID] = a.now().Add(10 * a.cfg.HeartbeatInterval)
		close(a.changed)
		a.changed = make(chan struct{})
	}
	a.mu.Unlock()
	c.close()
	a.cfg.Logger.Info("lost primary supernode", "peer", c.info.ID, "err", why)
	a.poke()
}

func (a *Agent) dropBackup(c *snClient, why error) {
	a.mu.Lock()
	a.backups = slices.DeleteFunc(a.backups, func(b *snClient) bool { return b == c })
	a.failedUntil[c.info.ID] = a.now().Add(10 * a.cfg.HeartbeatInterval)
	a.mu.Unlock()
	c.close()
	a.cfg.Logger.Debug("lost backup supernode", "peer", c.info.ID, "err", why)
}

// electPrimary promotes the lowest-RTT backup that accepts, or else attaches
// to the lowest-RTT known supernode. It reports whether there is a primary.
func (a *Agent) electPrimary() bool {
	a.mu.Lock()
	backups := slices.Clone(a.backups)
	a.mu.Unlock()
	sort.Slice(backups, func(i, j int) bool { return backups[i].rtt < backups[j].rtt })
	for _, b := range backups {
		if err := a.attach(b, true); err == nil {
			a.setPrimary(b)
			return true
		}
		a.dropBackup(b, errors.New("refused promotion"))
	}
	for _, fromSeen := range []bool{false, true} {
		// Known supernodes first; if none answers (they all failed), any
		// peer met so far may have been elected supernode since.
		for _, c := range a.candidates(fromSeen) {
			err := a.attach(c, true)
			if err == nil {
				a.mu.Lock()
				a.known[c.info.ID] = c.info
				a.mu.Unlock()
				a.setPrimary(c)
				return true
			}
			a.refused(c, err)
		}
	}
	return false
}

// refused handles an attach refusal: a supernode at capacity is asked
// where else to go; every refusal backs off.
func (a *Agent) refused(c *snClient, err error) {
	if errors.Is(err, protocol.ErrOverCapacity) {
		a.discoverFrom(c)
	}
	a.mu.Lock()
	backoff := 10 * a.cfg.HeartbeatInterval
	if errors.Is(err, multistream.ErrNotSupported[libp2pprotocol.ID]{}) {
		// Not a supernode (yet): when every supernode failed, the peers
		// met are where new ones get elected, so ask again soon.
		backoff = 5 * a.cfg.HeartbeatInterval
	}
	a.failedUntil[c.info.ID] = a.now().Add(backoff)
	a.mu.Unlock()
	a.cfg.Logger.Debug("attach refused", "peer", c.info.ID, "err", err, "retry_in", backoff)
	c.close()
}

func (a *Agent) setPrimary(c *snClient) {
	a.mu.Lock()
	a.backups = slices.DeleteFunc(a.backups, func(b *snClient) bool { return b == c })
	a.primary = c
	close(a.changed)
	a.changed = make(chan struct{})
	a.mu.Unlock()
	a.cfg.Logger.Info("attached to primary supernode", "peer", c.info.ID, "rtt", c.rtt)
}

func (a *Agent) markFailed(p peer.ID) {
	a.mu.Lock()
	a.failedUntil[p] = a.now().Add(10 * a.cfg.HeartbeatInterval)
	a.mu.Unlock()
}

// fillBackups attaches to more supernodes until m backups are attached.
func (a *Agent) fillBackups() {
	a.mu.Lock()
	need := a.cfg.Backups - len(a.backups)
	a.mu.Unlock()
	if need <= 0 {
		return
	}
	for _, fromSeen := range []bool{false, true} {
		for _, c := range a.candidates(fromSeen) {
			if need == 0 {
				return
			}
			if err := a.attach(c, false); err != nil {
				a.refused(c, err)
				continue
			}
			a.mu.Lock()
			a.known[c.info.ID] = c.info
			a.backups = append(a.backups, c)
			a.mu.Unlock()
			need--
		}
	}
}

// gossip lists the other supernodes this leaf is attached to, for the
// supernode `to` (see pb.HeartbeatRequest).
func (a *Agent) gossip(to peer.ID) []*pb.Peer {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*pb.Peer
	add := func(c *snClient) {
		if c != nil && c.info.ID != to && len(out) < protocol.MaxGossipPeers {
			out = append(out, a.cfg.Limits.PeerToPB(c.info))
		}
	}
	add(a.primary)
	for _, b := range a.backups {
		add(b)
	}
	return out
}

// maxSeen bounds the cache of peers met; maxSeenTries bounds how many of
// them one round tries.
const (
	maxSeen      = 256
	maxSeenTries = 8
)

// noteSeen remembers peers met, as fallback candidates.
func (a *Agent) noteSeen(ps []peer.AddrInfo) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, p := range ps {
		if p.ID == a.host.ID() || len(p.Addrs) == 0 {
			continue
		}
		if _, ok := a.seen[p.ID]; !ok && len(a.seen) >= maxSeen {
			for k := range a.seen { // evict an arbitrary one
				delete(a.seen, k)
				break
			}
		}
		a.seen[p.ID] = p
	}
}

// Seen returns the supernodes known and the other peers met.
func (a *Agent) Seen() []peer.AddrInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]peer.AddrInfo, 0, len(a.known)+len(a.seen))
	for _, p := range a.known {
		out = append(out, p)
	}
	for id, p := range a.seen {
		if a.known[id].ID == "" {
			out = append(out, p)
		}
	}
	return out
}

// candidates pings every known supernode that is not attached and not in
// backoff, and returns them by measured RTT, lowest first.
func (a *Agent) candidates(fromSeen bool) []*snClient {
	now := a.now()
	a.mu.Lock()
	var infos []peer.AddrInfo
	pool := a.known
	if fromSeen {
		pool = a.seen
	}
	for id, info := range pool {
		if fromSeen && a.known[id].ID != "" {
			continue
		}
		if now.Before(a.failedUntil[id]) {
			continue
		}
		if a.primary != nil && a.primary.info.ID == id {
			continue
		}
		if slices.ContainsFunc(a.backups, func(c *snClient) bool { return c.info.ID == id }) {
			continue
		}
		infos = append(infos, info)
	}
	a.mu.Unlock()
	if fromSeen && len(infos) > maxSeenTries {
		// Peers met are mostly leaves: try a few at random per round.
		rand.Shuffle(len(infos), func(i, j int) { infos[i], infos[j] = infos[j], infos[i] })
		infos = infos[:maxSeenTries]
	}
	out := make([]*snClient, len(infos))
	var wg sync.WaitGroup
	for i, info := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = a.measure(info)
		}()
	}
	wg.Wait()
	out = slices.DeleteFunc(out, func(c *snClient) bool { return c == nil })
	sort.Slice(out, func(i, j int) bool { return out[i].rtt < out[j].rtt })
	return out
}

// measure connects to a supernode and measures its RTT with libp2p ping.
func (a *Agent) measure(info peer.AddrInfo) *snClient {
	ctx, cancel := context.WithTimeout(a.ctx, a.hbTimeout())
	defer cancel()
	a.host.Peerstore().AddAddrs(info.ID, info.Addrs, 10*time.Minute)
	if err := a.host.Connect(ctx, info); err != nil {
		a.markFailed(info.ID)
		return nil
	}
	var rtt time.Duration
	select {
	case res := <-ping.Ping(ctx, a.host, info.ID):
		if res.Error != nil {
			a.markFailed(info.ID)
			return nil
		}
		rtt = res.RTT
	case <-ctx.Done():
		a.markFailed(info.ID)
		return nil
	}
	return &snClient{host: a.host, info: info, limits: a.cfg.Limits, rtt: rtt, meter: a.cfg.Meter}
}

// discover asks the primary for more supernodes.
func (a *Agent) discover() {
	a.mu.Lock()
	p := a.primary
	a.lastDiscov = a.now()
	a.mu.Unlock()
	if p != nil {
		a.discoverFrom(p)
	}
}

// discoverFrom asks supernode c for the supernodes it knows.
func (a *Agent) discoverFrom(c *snClient) {
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.call(ctx, &pb.Request{Body: &pb.Request_Supernodes{Supernodes: &pb.SupernodesRequest{}}})
	if err != nil {
		return
	}
	var peers []peer.AddrInfo
	for _, sp := range resp.GetSupernodes().GetPeers() {
		if info, err := a.cfg.Limits.PeerFromPB(sp); err == nil {
			peers = append(peers, info)
		}
	}
	a.noteSeen(peers)
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sp := range resp.GetSupernodes().GetSupernodes() {
		info, err := a.cfg.Limits.PeerFromPB(sp)
		if err == nil && info.ID != a.host.ID() {
			a.known[info.ID] = info
		}
	}
}

// refreshAll re-announces every object through the primary.
func (a *Agent) refreshAll(why string) {
	a.mu.Lock()
	cids := make([]cid.Cid, 0, len(a.objects))
	for c := range a.objects {
		cids = append(cids, c)
	}
	a.mu.Unlock()
	if len(cids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.cfg.RequestTimeout)
	defer cancel()
	if _, err := a.send(ctx, cids, false); err != nil {
		a.cfg.Logger.Warn("re-announce failed", "why", why, "err", err)
		return
	}
	a.cfg.Logger.Debug("re-announced", "why", why, "objects", len(cids))
}

// WaitAttached blocks until the agent has a primary supernode.
func (a *Agent) WaitAttached(ctx context.Context) error {
	_, err := a.waitPrimary(ctx)
	return err
}

func (a *Agent) waitPrimary(ctx context.Context) (route, error) {
	for {
		a.mu.Lock()
		p, local, ch, closed := a.primary, a.local, a.changed, a.closed
		a.mu.Unlock()
		if closed {
			return nil, ErrClosed
		}
		if local != nil {
			return localRoute{local}, nil
		}
		if p != nil {
			return p, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %w", ErrNoSupernode, ctx.Err())
		case <-a.ctx.Done():
			return nil, ErrClosed
		}
	}
}

// AnnounceResult reports what the overlay accepted, as the agent counted it
// from the replicas' signed receipts.
type AnnounceResult struct {
	Accepted        int // CIDs accepted
	Replicas        int // fewest replicas any CID reached
	Target          int // replicas each CID should have (r, or fewer supernodes)
	UnderReplicated int // CIDs below Target (the supernode keeps repairing them)
}

// Announce adds cids to the announced set (durably, when there is a data
// dir) and announces them through the primary; it returns once the overlay
// accepted them. The agent refreshes them until Withdraw.
func (a *Agent) Announce(ctx context.Context, cids []cid.Cid) (AnnounceResult, error) {
	if err := a.updateObjects(cids, true); err != nil {
		return AnnounceResult{}, err
	}
	return a.send(ctx, cids, false)
}

// Withdraw removes cids from the announced set and tells the overlay. The
// records stop being returned by lookups through supernodes that saw the
// withdrawal at once, and age out of the DHT within the record TTL.
func (a *Agent) Withdraw(ctx context.Context, cids []cid.Cid) (AnnounceResult, error) {
	if err := a.updateObjects(cids, false); err != nil {
		return AnnounceResult{}, err
	}
	return a.send(ctx, cids, true)
}

func (a *Agent) updateObjects(cids []cid.Cid, add bool) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[cid.Cid]struct{}, len(a.objects)+len(cids))
	for c := range a.objects {
		next[c] = struct{}{}
	}
	for _, c := range cids {
		if add {
			next[c] = struct{}{}
		} else {
			delete(next, c)
		}
	}
	if err := saveObjects(a.cfg.DataDir, next); err != nil {
		return err
	}
	a.objects = next
	return nil
}

// Objects lists the announced set.
func (a *Agent) Objects() []cid.Cid {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]cid.Cid, 0, len(a.objects))
	for c := range a.objects {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y cid.Cid) int { return strings.Compare(x.KeyString(), y.KeyString()) })
	return out
}
