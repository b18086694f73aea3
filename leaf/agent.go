package leaf

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filecoin-project/go-clock"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// Sentinel errors.
var (
	// ErrClosed: the agent was closed.
	ErrClosed = errors.New("leaf: closed")
	// ErrNoSupernode: no supernode is attached and none could be (see
	// NoSupernodeError for the addresses tried).
	ErrNoSupernode = errors.New("leaf: no supernode attached")
)

// Agent is a leaf: it attaches to a primary supernode and m backups, keeps
// its announced objects alive in the overlay, and looks objects up through
// the primary, asking a backup too when the primary is slow or silent. It
// runs no DHT.
type Agent struct {
	cfg   Config
	host  host.Host
	clock clock.Clock

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{}
	notif  *network.NotifyBundle
	// busy counts exchanges and dials in flight (tests wait for it to
	// settle before they move a mock clock on).
	busy  atomic.Int64
	relay *relayKeeper // relay slots while behind a NAT (relay.go)
	// verified opens lookup answers' announcements, checking each
	// envelope's signature once (verify.go).
	verified *protocol.AnnouncementCache

	// objMu orders changes of the announced set with the signing of their
	// envelopes, so a later change always carries a higher sequence number.
	objMu sync.Mutex

	mu          sync.Mutex
	primary     *session
	backups     []*session
	pending     map[peer.ID]bool // being measured or attached
	changed     chan struct{}    // closed and replaced when the primary changes or a round ends
	known       map[peer.ID]peer.AddrInfo
	seen        map[peer.ID]peer.AddrInfo // other peers met (lookup holders): fallback candidates
	failedUntil map[peer.ID]time.Time
	tries       map[peer.ID]tryOutcome // why each supernode is not attached
	rounds      uint64                 // attach rounds finished without a primary
	urgent      bool                   // a caller waits for a primary: retry known supernodes now
	lastUrgent  time.Time
	lastNoSNLog time.Time // last warning that no supernode is attached (once a minute)
	objects     map[cid.Cid]struct{}
	ttl         time.Duration
	lastRefresh time.Time
	refreshNow  bool
	retryAt     time.Time // after a failed announce or refresh, retry from then
	lastDiscov  time.Time
	epoch       time.Time // the origin of the agent's wake-up grid (nextTick)
	lastSeq     uint64
	failovers   int
	closed      bool
	local       LocalOverlay // set while this process is a supernode
	running     map[string]bool
	// nextRebalance: the next look for a lighter primary (rebalance.go).
	nextRebalance time.Time
}

// New starts a leaf agent on h. It restores the announced set from the
// data dir and starts attaching in the background; it does not wait for a
// supernode (see WaitAttached).
//
// cfg starts from DefaultConfig or LocalConfig; an invalid cfg is refused
// with ErrInvalidConfig.
func New(h host.Host, cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Meter = cmp.Or(cfg.Meter, &traffic.Meter{}) // nil: a meter of its own
	cfg.Clock = cmp.Or(cfg.Clock, clock.New())      // nil: the wall clock
	verified, err := protocol.NewAnnouncementCache(cfg.Limits, verifiedCacheSize)
	if err != nil {
		return nil, err
	}
	objects, err := loadObjects(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	a := &Agent{
		verified:    verified,
		cfg:         cfg,
		host:        h,
		clock:       cfg.Clock,
		kick:        make(chan struct{}, 1),
		pending:     make(map[peer.ID]bool),
		changed:     make(chan struct{}),
		known:       make(map[peer.ID]peer.AddrInfo),
		seen:        make(map[peer.ID]peer.AddrInfo),
		failedUntil: make(map[peer.ID]time.Time),
		tries:       make(map[peer.ID]tryOutcome),
		objects:     objects,
		ttl:         45 * time.Minute,
		running:     make(map[string]bool),
	}
	a.epoch = a.clock.Now()
	for _, p := range cfg.Supernodes {
		if p.ID != h.ID() {
			a.known[p.ID] = p
		}
	}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.relay = newRelayKeeper(a.ctx, h, cfg, a.poke)
	a.notif = &network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) {
		if s := a.sessionOf(c.RemotePeer()); s != nil {
			s.probe() // a heartbeat now tells whether it is gone
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
	a.changedLocked()
	a.mu.Unlock()
	a.cancel()
	a.wg.Wait()
	a.relay.close()
	a.host.Network().StopNotify(a.notif)
	a.mu.Lock()
	all := a.attachedLocked()
	a.primary, a.backups = nil, nil
	a.mu.Unlock()
	a.detachAll(all)
	return nil
}

// attachedLocked lists the attached sessions, primary first.
func (a *Agent) attachedLocked() []*session {
	all := slices.Clone(a.backups)
	if a.primary != nil {
		all = append([]*session{a.primary}, all...)
	}
	return all
}

// detachAll tells each supernode that the leaf leaves (without waiting for
// answers: a frozen supernode must not hold the leaf up) and closes the
// sessions.
func (a *Agent) detachAll(all []*session) {
	if len(all) == 0 {
		return
	}
	ctx, cancel := a.clock.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Go(func() {
			_ = s.notify(ctx, detachRequest())
			s.close()
		})
	}
	wg.Wait()
}

func (a *Agent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// changedLocked wakes everyone waiting for a primary.
func (a *Agent) changedLocked() {
	close(a.changed)
	a.changed = make(chan struct{})
}

func (a *Agent) sessionOf(p peer.ID) *session {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.attachedLocked() {
		if s.info.ID == p {
			return s
		}
	}
	return nil
}

// background runs f in its own goroutine unless a task of that name is
// still running.
func (a *Agent) background(name string, f func()) {
	a.mu.Lock()
	if a.running[name] || a.closed {
		a.mu.Unlock()
		return
	}
	a.running[name] = true
	a.wg.Add(1)
	a.mu.Unlock()
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.running, name)
			a.mu.Unlock()
		}()
		f()
	}()
}

// run is the agent's maintenance loop: a new primary when there is none,
// then backups, discovery and refresh in the background. Heartbeats run
// per supernode (heartbeats).
func (a *Agent) run() {
	defer a.wg.Done()
	t := a.clock.Timer(a.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		a.maintain()
		t.Reset(a.nextTick(a.maintainEvery()))
		select {
		case <-a.ctx.Done():
			return
		case <-t.C:
		case <-a.kick:
		}
	}
}

// maintainEvery is the wait before the next maintenance round: one
// heartbeat interval while a primary or a backup is missing; once settled,
// the period of the most frequent periodic chore (discovery, the refresh
// every third of the TTL, rebalancing, the relay keeper's reachability
// check), at least one heartbeat interval. With the defaults that is the
// discovery interval (30 s) instead of every heartbeat. Whatever unsettles
// the agent (a lost primary or backup, a failed announce, new relay
// addresses) pokes the loop at once, so the slower pace only spaces the
// periodic chores and an idle leaf wakes less.
func (a *Agent) maintainEvery() time.Duration {
	check := a.relay.checkPeriod() // its own lock, not under a.mu
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.local == nil && (a.primary == nil || len(a.backups) < a.cfg.Backups) {
		return a.cfg.HeartbeatInterval
	}
	every := a.cfg.DiscoveryInterval
	if len(a.objects) > 0 {
		every = min(every, time.Duration(float64(a.ttl)*a.cfg.RefreshFraction))
	}
	if a.cfg.Rebalance.Rho > 0 {
		every = min(every, a.cfg.Rebalance.Interval)
	}
	if check > 0 {
		every = min(every, check)
	}
	return max(every, a.cfg.HeartbeatInterval)
}

// dueSlack: a chore due within this much after a tick counts as due at the
// tick. Chores are stamped a little after the tick that ran them (the
// work takes time), so without it each period would end just past a tick
// and run one heartbeat late.
func (a *Agent) dueSlack() time.Duration { return a.cfg.HeartbeatInterval / 10 }

// nextTick is the wait until the agent's next multiple of period counted
// from its start (epoch). Heartbeats and maintenance all wait for ticks of
// this one grid, so an idle agent's periodic work coincides: the
// backups' beats (every 3 primary intervals) and the maintenance rounds
// (every 30 s) fall on primary beats, and the process wakes once for all
// of them instead of once each. Agents start at different times, so their
// grids do not line up across leaves (no herd at a supernode).
func (a *Agent) nextTick(period time.Duration) time.Duration {
	if period <= 0 {
		return 0
	}
	since := a.clock.Since(a.epoch)
	wait := period - since%period
	if wait < period/10 {
		// A tick just missed (the work of this one ran long): the next,
		// not one at once.
		wait += period
	}
	return wait
}

// newRouteLocked marks the announced set for a refresh through a new
// primary (or local supernode); an empty set has nothing to refresh.
func (a *Agent) newRouteLocked() {
	if len(a.objects) > 0 {
		a.refreshNow = true
	}
}

// refreshDueLocked reports whether the announced set is due for a refresh
// (a third of the TTL since the last, or a new route). An empty set counts
// as refreshed, so the first announce does not trigger a refresh.
func (a *Agent) refreshDueLocked() bool {
	if len(a.objects) == 0 {
		a.refreshNow, a.lastRefresh = false, a.clock.Now()
		return false
	}
	// Due a third of the TTL after the last refresh, at once for a new
	// route, and never before a failed announce's retry time.
	at := a.lastRefresh.Add(time.Duration(float64(a.ttl) * a.cfg.RefreshFraction))
	if a.refreshNow {
		at = a.lastRefresh
	}
	if at.Before(a.retryAt) {
		at = a.retryAt
	}
	return !a.clock.Now().Add(a.dueSlack()).Before(at)
}

// announceFailed schedules the whole announced set for a refresh a few
// heartbeat intervals from now: an announce or refresh that failed (no
// supernode attached, or the overlay failed) reaches the overlay soon after
// it recovers, not a third of a TTL later.
func (a *Agent) announceFailed() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refreshNow = true
	a.retryAt = a.clock.Now().Add(retryRefreshAfter * a.cfg.HeartbeatInterval)
}

// retryRefreshAfter: heartbeat intervals between a failed announce and the
// refresh that retries it.
const retryRefreshAfter = 5

func (a *Agent) maintain() {
	a.mu.Lock()
	primary, local := a.primary, a.local
	refreshDue := a.refreshDueLocked()
	a.mu.Unlock()
	if local != nil {
		if refreshDue {
			a.background("refresh", func() { a.refreshAll("refresh (local supernode)") })
		}
		return
	}
	if primary == nil {
		ok := a.electPrimary()
		a.mu.Lock()
		logNow := false
		if !ok {
			a.rounds++
			logNow = a.lastNoSNLog.IsZero() || a.clock.Since(a.lastNoSNLog) >= time.Minute
			if logNow {
				a.lastNoSNLog = a.clock.Now()
			}
		} else {
			a.lastNoSNLog = time.Time{}
		}
		refreshDue = a.refreshDueLocked()
		a.changedLocked()
		a.mu.Unlock()
		if logNow {
			a.cfg.Logger.Warn("no supernode attached; retrying", "err", a.noSupernode(nil))
		}
		if !ok {
			return
		}
	}
	if refreshDue {
		a.background("refresh", func() { a.refreshAll("refresh") })
	}
	a.background("backups", a.fillBackups)
	a.rebalance()
	if a.relay.maintain(a.Supernodes()) {
		// New circuit addresses: the next round (now) re-announces the set.
		a.mu.Lock()
		a.refreshNow = true
		a.mu.Unlock()
		a.poke()
	}
	a.mu.Lock()
	// Stamped here, not when the ask goes out: the next round comes one
	// DiscoveryInterval after this one, and must find it due.
	discover := a.clock.Since(a.lastDiscov) >= a.cfg.DiscoveryInterval-a.dueSlack()
	if discover {
		a.lastDiscov = a.clock.Now()
	}
	a.mu.Unlock()
	if discover {
		a.background("discover", a.discover)
	}
}

// refreshAll re-announces every object through the primary.
func (a *Agent) refreshAll(why string) {
	a.mu.Lock()
	a.refreshNow = false
	a.mu.Unlock()
	batches, n, err := a.signAll()
	if err != nil || n == 0 {
		if err != nil {
			a.cfg.Logger.Warn("re-announce failed", "why", why, "err", err)
		}
		return
	}
	ctx, cancel := a.clock.WithTimeout(a.ctx, a.cfg.RequestTimeout)
	defer cancel()
	if _, err := a.sendEnvelopes(ctx, batches); err != nil {
		a.cfg.Logger.Warn("re-announce failed", "why", why, "err", err)
		if a.ctx.Err() == nil {
			a.announceFailed()
		}
		return
	}
	a.mu.Lock()
	a.lastRefresh, a.retryAt = a.clock.Now(), time.Time{}
	a.mu.Unlock()
	a.cfg.Logger.Debug("re-announced", "why", why, "objects", n)
}

// WaitAttached blocks until the agent has a primary (or a local
// supernode), however long attaching takes, or until ctx ends.
func (a *Agent) WaitAttached(ctx context.Context) error {
	for {
		a.mu.Lock()
		ok, ch, closed := a.primary != nil || a.local != nil, a.changed, a.closed
		a.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case ok:
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return a.noSupernode(ctx.Err())
		}
	}
}

// Objects lists the announced set.
func (a *Agent) Objects() []cid.Cid {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.SortedFunc(maps.Keys(a.objects), func(x, y cid.Cid) int { return strings.Compare(x.KeyString(), y.KeyString()) })
}
