package btbridge

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
)

// ErrTrackerFull is returned to a client announcing while Config.MaxClients
// clients are registered.
var ErrTrackerFull error = bttracker.ClientError("tracker full")

// Bridge is a bttracker.Tracker backed by a leaf agent: BitTorrent clients
// announce to it, it announces their torrents into the overlay and answers
// with the BitTorrent clients other leaves hold. It is safe for concurrent
// use.
type Bridge struct {
	agent *leaf.Agent
	host  host.Host
	self  peer.ID
	cfg   Config
	fe    *bttracker.Frontend

	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // every goroutine and in-flight call
	inbound chan struct{}  // semaphore of served bt-peers streams
	kick    chan struct{}  // run a sweep now

	mu       sync.Mutex
	closed   bool
	torrents map[bttracker.InfoHash]*torrent
	nclients int
	done     *completions // "completed" events, per torrent and leaf
}

// torrent is the bridge's state for one infohash.
type torrent struct {
	ih  bttracker.InfoHash
	cid cid.Cid

	// op serialises this torrent's overlay announcements and withdrawals,
	// so the last one sent matches the latest client set.
	op sync.Mutex

	// Guarded by Bridge.mu.
	clients   map[bttracker.PeerID]*client
	announced bool // the overlay's last accepted word: we hold it
	users     int  // goroutines holding this pointer; 0 allows removal
	// For operators (Torrents): when a client last announced, and the
	// swarm over every leaf as that announce saw it.
	lastAnnounce                time.Time
	swarmSeeders, swarmLeechers int
}

// client is one BitTorrent client registered with this leaf.
type client struct {
	addr      netip.AddrPort
	seeder    bool
	completed bool // its "completed" event was counted
	expires   time.Time
}

// live yields the clients whose registration has not expired at now.
func (t *torrent) live(now time.Time) iter.Seq2[bttracker.PeerID, *client] {
	return func(yield func(bttracker.PeerID, *client) bool) {
		for id, c := range t.clients {
			if now.Before(c.expires) && !yield(id, c) {
				return
			}
		}
	}
}

// liveCounts counts the live clients that seed and those that leech.
func (t *torrent) liveCounts(now time.Time) (seeders, leechers int) {
	for _, c := range t.live(now) {
		if c.seeder {
			seeders++
		} else {
			leechers++
		}
	}
	return seeders, leechers
}

// New returns a Bridge on agent. It serves the bt-peers protocol on the
// agent's host at once and starts its maintenance goroutine; the tracker
// frontend is served by Serve or ListenAndServe, or mounted from Frontend.
// Close stops it; the agent stays open.
func New(agent *leaf.Agent, cfg Config) (*Bridge, error) {
	if agent == nil {
		return nil, fmt.Errorf("%w: nil agent", ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Bridge{
		agent:    agent,
		host:     agent.Host(),
		self:     agent.Host().ID(),
		cfg:      cfg,
		inbound:  make(chan struct{}, cfg.MaxInboundQueries),
		kick:     make(chan struct{}, 1),
		torrents: make(map[bttracker.InfoHash]*torrent),
		done:     newCompletions(agent.Host().ID(), cfg.MaxClients),
	}
	b.fe, err = bttracker.New(b, cfg.Frontend)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	if !cfg.KeepStale {
		// Torrents announced by an earlier run: their clients are unknown,
		// so the sweep withdraws them unless a client comes back first.
		for _, c := range agent.Objects() {
			if ih, err := bttracker.CIDToInfoHash(c); err == nil {
				t := b.newTorrent(ih)
				t.announced = true
				b.torrents[ih] = t
			}
		}
	}
	b.host.SetStreamHandler(protocol.BTPeersProtocol, b.handleStream)
	b.wg.Add(1)
	go b.run()
	return b, nil
}

// Config returns the effective configuration, with defaults filled in.
func (b *Bridge) Config() Config { return b.cfg }

// Frontend returns the BitTorrent tracker frontend calling this bridge: an
// http.Handler for /announce and /scrape, and a source of BEP 15 servers.
func (b *Bridge) Frontend() *bttracker.Frontend { return b.fe }

// Listen binds the tracker's TCP (HTTP) and UDP (BEP 15) sockets on
// hostport (see bttracker.Frontend.Listen); pass the result to Serve.
func (b *Bridge) Listen(hostport string) (*bttracker.Listener, error) {
	return b.fe.Listen(hostport)
}

// Serve serves the BitTorrent tracker on l, HTTP and UDP, until ctx is
// cancelled or the bridge is closed, then closes l. It returns nil after
// cancellation or Close, otherwise the first serving error.
func (b *Bridge) Serve(ctx context.Context, l *bttracker.Listener) error {
	if !b.enter() {
		l.Close()
		return ErrClosed
	}
	defer b.wg.Done()
	ctx, cancel := b.scope(ctx)
	defer cancel()
	return l.Serve(ctx)
}

// ListenAndServe is Listen followed by Serve: it serves
// http://hostport/announce and udp://hostport/announce.
func (b *Bridge) ListenAndServe(ctx context.Context, hostport string) error {
	l, err := b.Listen(hostport)
	if err != nil {
		return err
	}
	return b.Serve(ctx, l)
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("btbridge: closed")

// Close stops serving (bt-peers and any Serve), waits for every goroutine
// and in-flight call, then withdraws from the overlay every torrent it had
// announced (bounded by OverlayTimeout): with the bridge gone, nobody could
// tell other leaves who the clients are. The agent stays open.
func (b *Bridge) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	b.host.RemoveStreamHandler(protocol.BTPeersProtocol)
	b.cancel()
	b.wg.Wait()

	b.mu.Lock()
	var cids []cid.Cid
	for _, t := range b.torrents {
		if t.announced {
			cids = append(cids, t.cid)
		}
	}
	b.mu.Unlock()
	if len(cids) == 0 {
		return nil
	}
	if b.agent.Primary() == "" && !b.agent.Local() {
		// No supernode to tell: the records age out; do not hold up the
		// shutdown waiting for one.
		b.cfg.Logger.Info("btbridge: no supernode attached; torrents left to expire", "torrents", len(cids))
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.CloseTimeout)
	defer cancel()
	if _, err := b.agent.Withdraw(ctx, cids); err != nil {
		// The agent dropped them from its set anyway; the records age out.
		b.cfg.Logger.Warn("btbridge: withdrawing torrents on close", "torrents", len(cids), "err", err)
	}
	return nil
}

// enter registers an in-flight call; it fails once Close has begun.
func (b *Bridge) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.wg.Add(1)
	return true
}

// scope returns ctx also cancelled when the bridge closes.
func (b *Bridge) scope(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(b.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

func (b *Bridge) newTorrent(ih bttracker.InfoHash) *torrent {
	return &torrent{ih: ih, cid: bttracker.InfoHashToCID(ih), clients: make(map[bttracker.PeerID]*client)}
}

// acquire returns the torrent's state, creating it if create is set (nil
// otherwise when absent), and pins it until release. Call with b.mu held.
func (b *Bridge) acquireLocked(ih bttracker.InfoHash, create bool) *torrent {
	t := b.torrents[ih]
	if t == nil {
		if !create {
			return nil
		}
		t = b.newTorrent(ih)
		b.torrents[ih] = t
	}
	t.users++
	return t
}

// release unpins t and forgets it when it holds nothing.
func (b *Bridge) release(t *torrent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	t.users--
	b.dropIfIdleLocked(t)
}

func (b *Bridge) dropIfIdleLocked(t *torrent) {
	if t.users == 0 && len(t.clients) == 0 && !t.announced && b.torrents[t.ih] == t {
		delete(b.torrents, t.ih)
	}
}

// reconcile makes the overlay match the local client set: announce the
// torrent's CID while any client holds it, withdraw it when none does. The
// agent keeps announced CIDs refreshed. A failure leaves the torrent
// unreconciled, for the sweep to retry.
func (b *Bridge) reconcile(ctx context.Context, t *torrent) error {
	t.op.Lock()
	defer t.op.Unlock()
	for range 3 { // the client set may change while we talk to the overlay
		b.mu.Lock()
		want, have := len(t.clients) > 0, t.announced
		b.mu.Unlock()
		if want == have {
			return nil
		}
		var err error
		if want {
			_, err = b.agent.Announce(ctx, []cid.Cid{t.cid})
		} else {
			_, err = b.agent.Withdraw(ctx, []cid.Cid{t.cid})
		}
		if err != nil {
			what := map[bool]string{true: "announce", false: "withdraw"}[want]
			return fmt.Errorf("btbridge: overlay %s of %s: %w", what, t.ih, err)
		}
		b.mu.Lock()
		t.announced = want
		b.mu.Unlock()
	}
	return nil
}

// run is the maintenance loop.
func (b *Bridge) run() {
	defer b.wg.Done()
	tick := time.NewTicker(b.cfg.SweepInterval)
	defer tick.Stop()
	for {
		b.sweep()
		select {
		case <-b.ctx.Done():
			return
		case <-tick.C:
		case <-b.kick:
		}
	}
}

// sweep drops expired clients and reconciles every torrent whose overlay
// state does not match its clients.
func (b *Bridge) sweep() {
	now := b.cfg.Now()
	var todo []*torrent
	b.mu.Lock()
	acl := b.fe.AccessList()
	for _, t := range b.torrents {
		allowed := acl.Allowed(t.ih)
		for id, c := range t.clients {
			if !allowed || !now.Before(c.expires) {
				delete(t.clients, id)
				b.nclients--
			}
		}
		if (len(t.clients) > 0) != t.announced {
			t.users++
			todo = append(todo, t)
		} else {
			b.dropIfIdleLocked(t)
		}
	}
	b.mu.Unlock()
	for _, t := range todo {
		if b.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(b.ctx, b.cfg.OverlayTimeout)
			if err := b.reconcile(ctx, t); err != nil && b.ctx.Err() == nil {
				b.cfg.Logger.Warn("btbridge: overlay update failed; will retry", "err", err)
			}
			cancel()
		}
		b.release(t)
	}
}

// Announce implements bttracker.Tracker.
func (b *Bridge) Announce(ctx context.Context, req bttracker.AnnounceRequest) (bttracker.AnnounceResponse, error) {
	resp := bttracker.AnnounceResponse{Interval: b.cfg.Interval, MinInterval: b.cfg.MinInterval}
	if !b.enter() {
		return resp, bttracker.ErrUnavailable
	}
	defer b.wg.Done()
	ctx, cancel := b.scope(ctx)
	defer cancel()

	if req.Event == bttracker.EventStopped {
		b.mu.Lock()
		t := b.acquireLocked(req.InfoHash, false)
		if t != nil {
			if _, ok := t.clients[req.PeerID]; ok {
				delete(t.clients, req.PeerID)
				b.nclients--
			}
		}
		b.mu.Unlock()
		if t != nil {
			if err := b.reconcile(ctx, t); err != nil {
				b.cfg.Logger.Warn("btbridge: withdraw failed; will retry", "err", err)
			}
			b.release(t)
		}
		return resp, nil // a leaving client ignores the peers
	}

	ip := req.IP.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsUnspecified() || req.Port == 0 {
		return resp, bttracker.ErrInvalidRequest
	}
	self := netip.AddrPortFrom(ip, req.Port)

	b.mu.Lock()
	t := b.acquireLocked(req.InfoHash, true)
	c := t.clients[req.PeerID]
	if c == nil {
		if b.nclients >= b.cfg.MaxClients {
			b.mu.Unlock()
			b.release(t)
			return resp, ErrTrackerFull
		}
		c = &client{}
		t.clients[req.PeerID] = c
		b.nclients++
	}
	now := b.cfg.Now()
	c.addr, c.seeder, c.expires = self, req.Seeder(), now.Add(b.cfg.PeerTimeout)
	t.lastAnnounce = now
	if req.Event == bttracker.EventCompleted && !c.completed {
		c.completed = true
		b.done.addOwn(req.InfoHash, now)
	}
	b.mu.Unlock()
	defer b.release(t)

	// Publish (first time) and collect concurrently: the lookup does not
	// need our own record.
	var syncErr error
	synced := make(chan struct{})
	go func() {
		defer close(synced)
		syncErr = b.reconcile(ctx, t)
	}()
	sw, err := b.collect(ctx, []bttracker.InfoHash{req.InfoHash}, req.NumWant, req.Seeder(), req.PeerID)
	<-synced

	s := sw[0]
	resp.Complete, resp.Incomplete = s.seeders, s.leechers
	b.mu.Lock()
	t.swarmSeeders, t.swarmLeechers = s.seeders, s.leechers
	b.mu.Unlock()
	resp.Peers = pickPeers(s.peers, req.NumWant, req.Seeder(), req.PeerID, self)
	if err != nil {
		if len(resp.Peers) == 0 {
			b.cfg.Logger.Warn("btbridge: overlay lookup failed", "infohash", req.InfoHash, "err", err)
			return resp, fmt.Errorf("%w: %w", bttracker.ErrUnavailable, err)
		}
		resp.WarningMessage = "overlay lookup failed; only peers known locally"
	}
	if syncErr != nil {
		b.cfg.Logger.Warn("btbridge: announce failed; will retry", "err", syncErr)
		if resp.WarningMessage == "" {
			resp.WarningMessage = "overlay announce failed; retrying"
		}
	}
	return resp, nil
}

// Scrape implements bttracker.Tracker.
func (b *Bridge) Scrape(ctx context.Context, hs []bttracker.InfoHash) ([]bttracker.ScrapeStats, error) {
	if !b.enter() {
		return nil, bttracker.ErrUnavailable
	}
	defer b.wg.Done()
	ctx, cancel := b.scope(ctx)
	defer cancel()
	sw, err := b.collect(ctx, hs, 0, false, bttracker.PeerID{})
	if err != nil && errors.Is(err, errAllLookupsFailed) {
		b.cfg.Logger.Warn("btbridge: scrape lookups failed", "err", err)
		return nil, fmt.Errorf("%w: %w", bttracker.ErrUnavailable, err)
	}
	out := make([]bttracker.ScrapeStats, len(hs))
	for i, s := range sw {
		out[i] = bttracker.ScrapeStats{Complete: s.seeders, Incomplete: s.leechers, Downloaded: s.downloaded}
	}
	return out, nil
}

// Stats is a snapshot of the bridge's local state.
type Stats struct {
	Torrents  int // torrents with state (clients or an overlay record)
	Clients   int // BitTorrent clients registered
	Announced int // torrents announced into the overlay
}

// Stats returns a snapshot of the local state.
func (b *Bridge) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{Torrents: len(b.torrents), Clients: b.nclients}
	for _, t := range b.torrents {
		if t.announced {
			s.Announced++
		}
	}
	return s
}
