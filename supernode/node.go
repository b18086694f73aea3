package supernode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filecoin-project/go-clock"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	dssync "github.com/ipfs/go-datastore/sync"
	leveldb "github.com/ipfs/go-ds-leveldb"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/protocol/circuitv2/relay"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/sync/semaphore"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/traffic"
	"github.com/supertracker/supertracker/supernode/membership"
	"github.com/supertracker/supertracker/supernode/recordstore"
)

// ErrClosed is returned by operations on a closed Node.
var ErrClosed = errors.New("supernode: closed")

// verifiedCacheSize bounds the announcements whose verified signature a
// supernode remembers (by envelope hash; parsed fields only, ≤ 4.5 KB
// each at the address limits).
const verifiedCacheSize = 8192

// maxReplicaCalls bounds the replica stores in flight from this supernode
// (the goroutines announcements start).
const maxReplicaCalls = 256

// Node is a running supernode: a kad-dht server with prefix
// protocol.DHTPrefix (for stock clients and routing), the leaf protocol,
// and the peer protocol with the other supernodes (membership, replica
// stores, one-hop fetches). It does not own the libp2p host it runs on.
type Node struct {
	cfg        Config
	host       host.Host
	dht        *dht.IpfsDHT
	store      *recordstore.Store
	memDS      ds.Batching // the in-memory datastore when cfg.Datastore is nil
	view       *membership.View
	sess       *sessions
	relay      *relay.Relay // nil when RelayConfig.Disabled
	lim        *peerLimiter // leaf protocol, and peer protocol before a hello
	plim       *peerLimiter // supernodes' requests after a hello
	cidLim     *cidLimiter
	announcing *semaphore.Weighted
	storing    *semaphore.Weighted
	working    *semaphore.Weighted // cpuwork.go
	verified   *protocol.AnnouncementCache
	load       *loadMeter
	clock      clock.Clock
	notif      *network.NotifyBundle

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	certMu  sync.Mutex
	certSeq uint64
	certEnv []byte

	peersMu sync.Mutex
	clients map[peer.ID]*peerClient
	dialing map[peer.ID]chan struct{}

	repairMu      sync.Mutex
	pushes        []pushJob
	repairDropped int
	repaired      atomic.Int64
	kadRefused    atomic.Int64

	mu        sync.Mutex
	tried     map[peer.ID]time.Time // peers learn tried to reach
	streams   map[network.Stream]struct{}
	closed    bool
	stepping  bool
	closeErr  error
	closeOnce sync.Once
}

// New starts a supernode on h with cfg (start from DefaultConfig or
// LocalConfig); an invalid cfg is refused with ErrInvalidConfig. On error
// nothing is left running.
func New(h host.Host, cfg Config) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Meter = cmp.Or(cfg.Meter, &traffic.Meter{}) // nil: a meter of its own
	cfg.Clock = cmp.Or(cfg.Clock, clock.New())      // nil: the wall clock
	n := &Node{
		cfg:        cfg,
		host:       h,
		clock:      cfg.Clock,
		sess:       newSessions(),
		lim:        newPeerLimiter(cfg.RequestsPerSecond, cfg.RequestBurst),
		plim:       newPeerLimiter(cfg.PeerRequestsPerSecond, cfg.PeerRequestBurst),
		cidLim:     newCIDLimiter(cfg.CIDsPerSecond),
		announcing: semaphore.NewWeighted(int64(cfg.MaxConcurrentAnnounces)),
		storing:    semaphore.NewWeighted(maxReplicaCalls),
		working:    semaphore.NewWeighted(cpuWorkers()),
		streams:    make(map[network.Stream]struct{}),
		clients:    make(map[peer.ID]*peerClient),
		dialing:    make(map[peer.ID]chan struct{}),
		view: membership.New(membership.Config{Self: h.ID(), PrefixBits4: cfg.PrefixBits4,
			PrefixBits6: cfg.PrefixBits6, Limits: cfg.Limits}),
	}
	verified, err := protocol.NewAnnouncementCache(cfg.Limits, verifiedCacheSize)
	if err != nil {
		return nil, err
	}
	n.verified = verified
	n.load = newLoadMeter(5*time.Second, n.clock.Now())
	d := cfg.Datastore
	if d == nil {
		mem, err := leveldb.NewDatastore("", nil)
		if err != nil {
			return nil, fmt.Errorf("supernode: in-memory store: %w", err)
		}
		n.memDS, d = mem, mem
	}
	// The records live under their own namespace: the datastore may hold
	// the node's peerstore too.
	d = namespace.Wrap(d, ds.NewKey("/supertracker/records/v2"))
	n.ctx, n.cancel = context.WithCancel(context.Background())
	fail := func(err error) (*Node, error) {
		n.cancel()
		if n.memDS != nil {
			n.memDS.Close()
		}
		return nil, err
	}
	st, err := recordstore.Open(n.ctx, d, n.clock.Now())
	if err != nil {
		return fail(fmt.Errorf("supernode: opening the record store: %w", err))
	}
	n.store = st
	if recs, leaves := st.Counts(); recs > 0 {
		cfg.Logger.Info("records restored from the datastore", "records", recs, "leaves", leaves)
	}
	if err := n.issueCert(false); err != nil {
		return fail(err)
	}

	dopts := []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.DHTPrefix),
		dht.BucketSize(20),
		dht.DisableValues(), // we store no values; third parties cannot either
		// kad-dht's provider store holds only what mirror() copies into it
		// for stock clients, in memory, for MirrorTTL.
		dht.ProviderDatastore(dssync.MutexWrap(ds.NewMapDatastore())),
		dht.ProviderManagerOpts(
			records.ProvideValidity(cfg.MirrorTTL),
			records.ProviderAddrTTL(cfg.MirrorTTL),
			records.CleanupInterval(cfg.MirrorTTL),
		),
		dht.OnRequestHook(n.onKadRequest),
		// Only supernodes verified in the membership view enter the routing
		// table (and so FIND_NODE answers).
		dht.RoutingTableFilter(func(_ any, p peer.ID) bool {
			m, ok := n.view.Get(p)
			return ok && m.Verified && !m.Down
		}),
		dht.DisableAutoRefresh(), // the view, not random walks, fills the table
	}
	kd, err := dht.New(h, dopts...)
	if err != nil {
		return fail(fmt.Errorf("supernode: starting DHT: %w", err))
	}
	n.dht = kd
	if n.relay, err = n.startRelay(); err != nil {
		kd.Close()
		return fail(err)
	}

	n.notif = &network.NotifyBundle{DisconnectedF: func(nw network.Network, c network.Conn) {
		if p := c.RemotePeer(); nw.Connectedness(p) != network.Connected {
			n.onDisconnect(p)
		}
	}}
	h.Network().Notify(n.notif)
	h.SetStreamHandler(protocol.LeafProtocol, n.handleLeafStream)
	h.SetStreamHandler(protocol.PeerProtocol, n.handlePeerStream)

	n.wg.Add(3)
	go n.gcLoop()
	go n.gossipLoop()
	go n.repairLoop()
	if len(cfg.BootstrapPeers) > 0 {
		n.goBackground(n.bootstrapLoop)
	}
	return n, nil
}

// bootstrapRetryFor is how long a new supernode keeps retrying bootstrap
// peers that did not answer (after 1 s, doubling to 16 s): supernodes
// started together (a power cut, a redeploy) each dial the others before
// all of them listen, and one that knows nobody is found only by those
// that retry it.
const bootstrapRetryFor = time.Minute

// bootstrapLoop connects to the bootstrap peers, then retries those that
// failed until they answer, enter the view verified through another
// session, or bootstrapRetryFor passes. Retries ignore libp2p's dial
// backoff (5 s and more after a refused dial): the peer is expected to
// come up.
func (n *Node) bootstrapLoop(ctx context.Context) {
	pending := n.cfg.BootstrapPeers
	until := n.clock.Now().Add(bootstrapRetryFor)
	wait := time.Second
	dctx := ctx
	for first := true; ; first = false {
		ok, failed, errs := n.connect(dctx, pending)
		if first && ok == 0 && len(errs) > 0 && ctx.Err() == nil {
			n.cfg.Logger.Warn("no bootstrap peer answered as a supernode; retrying for a minute", "err", errors.Join(errs...))
		}
		pending = nil
		for _, p := range failed {
			if m, ok := n.view.Get(p.ID); !ok || !m.Verified || m.Down {
				pending = append(pending, p)
			}
		}
		if len(pending) == 0 || !n.clock.Now().Add(wait).Before(until) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-n.clock.After(wait):
		}
		wait = min(2*wait, 16*time.Second)
		dctx = network.WithForceDirectDial(ctx, "supernode bootstrap retry")
	}
}

// Bootstrap opens sessions with the configured bootstrap peers; those that
// are supernodes enter the view, and gossip with them fills it.
func (n *Node) Bootstrap(ctx context.Context) error {
	return n.Connect(ctx, n.cfg.BootstrapPeers)
}

// Connect opens sessions (at most 16 at a time) with peers; those that are
// supernodes enter the membership view, and one round of gossip with each
// completes it. It is how a new supernode joins, and how one that lost its
// peers finds others among the peers its node has met. It returns the
// failures, joined, when no peer answered as a supernode.
func (n *Node) Connect(ctx context.Context, peers []peer.AddrInfo) error {
	ok, _, errs := n.connect(ctx, peers)
	if ok > 0 {
		return nil
	}
	return errors.Join(errs...)
}

// connect opens sessions with peers (at most 16 at a time) and returns how
// many answered as supernodes, and those that did not with their errors.
func (n *Node) connect(ctx context.Context, peers []peer.AddrInfo) (ok int, failed []peer.AddrInfo, errs []error) {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, 16)
	)
	for _, p := range peers {
		if p.ID == n.host.ID() || p.ID == "" {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if len(n.host.Network().ConnsToPeer(p.ID)) == 0 {
				n.host.Peerstore().AddAddrs(p.ID, p.Addrs, n.cfg.CertTTL)
			}
			_, err := n.client(cctx, p.ID)
			if err == nil {
				n.gossipWith(p.ID)
			} else {
				n.forgetAddrs(p)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				n.cfg.Logger.Debug("peer did not answer as a supernode", "peer", p.ID, "err", err)
				errs = append(errs, fmt.Errorf("connect %s: %w", p.ID, err))
				failed = append(failed, p)
			} else {
				ok++
			}
		}()
	}
	wg.Wait()
	return ok, failed, errs
}

// forgetAddrs drops the addresses Connect was handed for p once p did not
// answer as a supernode (a leaf's gossip can name any peer at any address):
// kad-dht hands a peer's peerstore addresses to anyone who asks (FIND_NODE,
// GET_PROVIDERS), so a planted address must not stay there. Addresses of a
// live connection or of p's cert are kept.
func (n *Node) forgetAddrs(p peer.AddrInfo) {
	keep := make(map[string]bool)
	for _, c := range n.host.Network().ConnsToPeer(p.ID) {
		keep[string(c.RemoteMultiaddr().Bytes())] = true
	}
	if m, ok := n.view.Get(p.ID); ok {
		for _, a := range m.Addrs {
			keep[string(a.Bytes())] = true
		}
	}
	for _, a := range p.Addrs {
		if !keep[string(a.Bytes())] {
			n.host.Peerstore().SetAddr(p.ID, a, 0)
		}
	}
}

// goBackground runs f on a goroutine Close waits for.
func (n *Node) goBackground(f func(ctx context.Context)) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		f(n.ctx)
	}()
}

// Close stops serving: it removes the stream handlers, resets open streams
// and sessions, waits for every goroutine and closes the DHT (and the
// in-memory datastore, if it made one). The host stays open.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		streams := make([]network.Stream, 0, len(n.streams))
		for s := range n.streams {
			streams = append(streams, s)
		}
		n.mu.Unlock()
		n.host.Network().StopNotify(n.notif)
		n.host.RemoveStreamHandler(protocol.LeafProtocol)
		n.host.RemoveStreamHandler(protocol.PeerProtocol)
		if n.relay != nil {
			n.relay.Close()
		}
		// kad-dht's Close leaves its stream handlers on the host; remove
		// them so peers stop treating this host as a DHT server (the host
		// may live on as a leaf).
		n.host.RemoveStreamHandler(protocol.DHTPrefix + "/kad/1.0.0")
		n.cancel()
		for _, s := range streams {
			s.Reset()
		}
		n.peersMu.Lock()
		clients := n.clients
		n.clients = map[peer.ID]*peerClient{}
		n.peersMu.Unlock()
		for _, c := range clients {
			c.close()
		}
		n.wg.Wait()
		errs := []error{n.dht.Close()}
		if n.memDS != nil {
			errs = append(errs, n.memDS.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func (n *Node) isClosed() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closed
}

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// DHT returns the kad-dht instance (for tests and metrics).
func (n *Node) DHT() *dht.IpfsDHT { return n.dht }

// Traffic returns the supernode's traffic counts by kind.
func (n *Node) Traffic() map[string]traffic.Counts { return n.cfg.Meter.Snapshot() }

// RecordTTL is how long records live without a refresh.
func (n *Node) RecordTTL() time.Duration { return n.cfg.RecordTTL }

// Config returns the configuration in force.
func (n *Node) Config() Config { return n.cfg }

// AddrInfo returns this supernode's peer ID and addresses.
func (n *Node) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: n.host.ID(), Addrs: n.host.Addrs()}
}

// Stats is a snapshot of the supernode's state.
type Stats struct {
	Leaves       int
	MaxLeaves    int
	Records      int // live records this supernode stores
	RecordLeaves int // leaves those records belong to
	Members      int // supernodes usable for placement, this one included
	RoutingTable int
	Arrival      float64
	Service      float64
	Rho          float64
	Repaired     int64 // records pushed to replicas by repair
	KadRefused   int64 // third-party ADD_PROVIDER requests neutralised
}

// Stats returns a snapshot.
func (n *Node) Stats() Stats {
	recs, leaves := n.store.Counts()
	l := n.load.sample(n.clock.Now())
	return Stats{
		Leaves:       n.sess.count(),
		MaxLeaves:    n.cfg.MaxLeaves,
		Records:      recs,
		RecordLeaves: leaves,
		Members:      n.MemberCount(),
		RoutingTable: n.dht.RoutingTable().Size(),
		Arrival:      l.Arrival,
		Service:      l.Service,
		Rho:          l.Rho,
		Repaired:     n.repaired.Load(),
		KadRefused:   n.kadRefused.Load(),
	}
}

// Leaves lists the attached leaves.
func (n *Node) Leaves() []peer.ID { return n.sess.list() }

// StepDown makes the supernode answer every leaf request with STEPPING_DOWN
// so attached leaves move to other supernodes, and tells the other
// supernodes (a cert marked leaving) so they stop placing records here and
// repair what it held; it keeps serving the peer protocol until Close.
func (n *Node) StepDown() { n.setStepping(true) }

// Resume undoes StepDown (a role change that was called off).
func (n *Node) Resume() { n.setStepping(false) }

// setStepping sets whether the node is stepping down and tells the other
// supernodes with a new cert (Leaving: stepping).
func (n *Node) setStepping(stepping bool) {
	n.mu.Lock()
	n.stepping = stepping
	n.mu.Unlock()
	if err := n.issueCert(stepping); err == nil {
		n.pushCert()
	}
}

func (n *Node) steppingDown() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stepping
}

// track registers an open stream so Close can reset it; false if closed.
func (n *Node) track(s network.Stream) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return false
	}
	n.streams[s] = struct{}{}
	n.wg.Add(1)
	return true
}

func (n *Node) untrack(s network.Stream) {
	n.mu.Lock()
	delete(n.streams, s)
	n.mu.Unlock()
	n.wg.Done()
}

func (n *Node) gcLoop() {
	defer n.wg.Done()
	t := n.clock.Ticker(n.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			now := n.clock.Now()
			if _, err := n.store.GC(n.ctx, now); err != nil && n.ctx.Err() == nil {
				n.cfg.Logger.Warn("record GC failed", "err", err)
			}
			n.sess.expire(now, n.cfg.SessionTimeout)
			n.lim.gc(now, time.Minute)
			n.plim.gc(now, time.Minute)
			n.cidLim.gc(now, time.Minute)
		}
	}
}

// prefixOf is the network prefix p's connection comes from ("" if none).
func (n *Node) prefixOf(p peer.ID) string {
	for _, c := range n.host.Network().ConnsToPeer(p) {
		if g := prefixGroup(c.RemoteMultiaddr(), n.cfg.PrefixBits4, n.cfg.PrefixBits6); g != "" {
			return g
		}
	}
	return ""
}

// prefixGroup masks a's IP to the configured prefix ("" without IP or with
// the prefix off).
func prefixGroup(a ma.Multiaddr, bits4, bits6 int) string {
	ip, err := manet.ToIP(a)
	if err != nil {
		return ""
	}
	bits, size := bits6, 128
	if ip4 := ip.To4(); ip4 != nil {
		ip, bits, size = ip4, bits4, 32
	}
	if bits <= 0 {
		return ""
	}
	return ip.Mask(net.CIDRMask(bits, size)).String()
}
