package supernode

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	dhtpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p-kad-dht/records"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

// ErrClosed is returned by operations on a closed Node.
var ErrClosed = errors.New("supernode: closed")

// Node is a running supernode: a kad-dht server with prefix
// protocol.DHTPrefix plus the leaf and replication protocols. It does not own
// the libp2p host it runs on.
type Node struct {
	cfg   Config
	host  host.Host
	dht   *dht.IpfsDHT
	index *recordIndex
	sess  *sessions
	lim   *peerLimiter
	load  *loadMeter
	now   func() time.Time

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	streams   map[network.Stream]struct{}
	closed    bool
	stepping  bool
	tried     map[peer.ID]time.Time // supernodes learn tried to reach
	learning  bool
	closeErr  error
	closeOnce sync.Once
}

// New starts a supernode on h. Options are applied over DefaultConfig and
// then validated; on error nothing is left running.
func New(h host.Host, opts ...Option) (*Node, error) {
	cfg := DefaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		host:    h,
		index:   newRecordIndex(),
		sess:    newSessions(),
		lim:     newPeerLimiter(cfg.RequestsPerSecond, cfg.RequestBurst),
		now:     time.Now,
		streams: make(map[network.Stream]struct{}),
	}
	n.load = newLoadMeter(5*time.Second, n.now())
	if n.cfg.Meter == nil {
		n.cfg.Meter = &protocol.Meter{}
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if cfg.Datastore != nil {
		// The record index lives next to the provider records it mirrors
		// (index_store.go), so a restart keeps tombstones, caps and counts.
		n.index.db = cfg.Datastore
		n.index.logErr = func(err error) { cfg.Logger.Warn("record index: datastore write failed", "err", err) }
		if k, err := n.index.load(n.ctx, n.now()); err != nil {
			cfg.Logger.Warn("record index: reading the datastore failed", "err", err, "restored", k)
		} else if k > 0 {
			cfg.Logger.Info("record index restored from the datastore", "entries", k)
		}
	}

	dopts := []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.DHTPrefix),
		dht.BucketSize(20),
		dht.ProviderManagerOpts(
			records.ProvideValidity(cfg.RecordTTL),
			records.ProviderAddrTTL(cfg.RecordTTL),
			records.CleanupInterval(cfg.GCInterval),
		),
		dht.OnRequestHook(func(context.Context, network.Stream, *dhtpb.Message) {
			// DHT RPCs count towards arrival rate; their cost is small and
			// measured by the leaf-side service times.
			n.load.observe(0, n.now())
			n.cfg.Meter.In("kad", 0)
		}),
	}
	if len(cfg.BootstrapPeers) > 0 {
		dopts = append(dopts, dht.BootstrapPeers(cfg.BootstrapPeers...))
	}
	if cfg.Datastore != nil {
		dopts = append(dopts, dht.Datastore(cfg.Datastore))
	}
	if cfg.DisableDHTAutoRefresh {
		dopts = append(dopts, dht.DisableAutoRefresh())
	}
	d, err := dht.New(h, dopts...)
	if err != nil {
		n.cancel()
		return nil, fmt.Errorf("supernode: starting DHT: %w", err)
	}
	n.dht = d

	h.SetStreamHandler(protocol.LeafProtocol, n.handleLeafStream)
	h.SetStreamHandler(protocol.ReplicateProtocol, n.handleReplicateStream)

	n.wg.Add(2)
	go n.gcLoop()
	go n.rendezvousLoop()
	if len(cfg.BootstrapPeers) > 0 {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.Bootstrap(n.ctx) }()
	}
	return n, nil
}

// Bootstrap connects to the configured bootstrap peers and refreshes the
// routing table. New calls it in the background; tests call it to wait.
func (n *Node) Bootstrap(ctx context.Context) error {
	return n.Connect(ctx, n.cfg.BootstrapPeers)
}

// Connect dials peers (at most 16 at a time) and refreshes the routing
// table: those that are supernodes enter it. It is how a supernode that
// lost its DHT peers finds others among the peers its node has met.
func (n *Node) Connect(ctx context.Context, peers []peer.AddrInfo) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 16)
	)
	for _, p := range peers {
		if p.ID == n.host.ID() {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := n.host.Connect(cctx, p); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("connect %s: %w", p.ID, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-n.dht.RefreshRoutingTable():
		if err != nil {
			errs = append(errs, err)
		}
	case <-ctx.Done():
		errs = append(errs, ctx.Err())
	}
	return errors.Join(errs...)
}

// Close stops serving: it removes the stream handlers, resets open streams,
// waits for every goroutine and closes the DHT. The host stays open.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		n.mu.Lock()
		n.closed = true
		streams := make([]network.Stream, 0, len(n.streams))
		for s := range n.streams {
			streams = append(streams, s)
		}
		n.mu.Unlock()
		n.host.RemoveStreamHandler(protocol.LeafProtocol)
		n.host.RemoveStreamHandler(protocol.ReplicateProtocol)
		// kad-dht's Close leaves its stream handlers on the host; remove
		// them so peers stop treating this host as a DHT server (the host
		// may live on as a leaf).
		n.host.RemoveStreamHandler(protocol.DHTPrefix + "/kad/1.0.0")
		n.cancel()
		for _, s := range streams {
			s.Reset()
		}
		n.wg.Wait()
		n.closeErr = n.dht.Close()
	})
	return n.closeErr
}

// Host returns the libp2p host.
func (n *Node) Host() host.Host { return n.host }

// DHT returns the kad-dht instance (for tests and metrics).
func (n *Node) DHT() *dht.IpfsDHT { return n.dht }

// Traffic returns the supernode's traffic counts by kind.
func (n *Node) Traffic() map[string]protocol.Counts { return n.cfg.Meter.Snapshot() }

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
	RoutingTable int
	Arrival      float64
	Service      float64
	Rho          float64
}

// Stats returns a snapshot.
func (n *Node) Stats() Stats {
	recs, leaves := n.index.count()
	l := n.load.sample(n.now())
	return Stats{
		Leaves:       n.sess.count(),
		MaxLeaves:    n.cfg.MaxLeaves,
		Records:      recs,
		RecordLeaves: leaves,
		RoutingTable: n.dht.RoutingTable().Size(),
		Arrival:      l.Arrival,
		Service:      l.Service,
		Rho:          l.Rho,
	}
}

// Leaves lists the attached leaves.
func (n *Node) Leaves() []peer.ID { return n.sess.list() }

// StepDown makes the supernode answer every leaf request with STEPPING_DOWN
// so attached leaves move to other supernodes; it keeps serving the DHT and
// replication until Close.
func (n *Node) StepDown() {
	n.mu.Lock()
	n.stepping = true
	n.mu.Unlock()
}

// Resume undoes StepDown (a role change that was called off).
func (n *Node) Resume() {
	n.mu.Lock()
	n.stepping = false
	n.mu.Unlock()
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
	t := time.NewTicker(n.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			now := n.now()
			n.index.gc(now)
			n.sess.expire(now, n.cfg.SessionTimeout)
			n.lim.gc(now, time.Minute)
		}
	}
}
