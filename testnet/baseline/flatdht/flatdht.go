// Package flatdht is the flat-DHT baseline node: every peer a stock
// go-libp2p-kad-dht server (Mode(ModeServer), protocol prefix /flatdht),
// publishing with Provide and looking up with FindProvidersAsync, as IPFS
// does, with no supernodes. See package baseline.
package flatdht

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/routing"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/protocol/identity"
	"github.com/supertracker/supertracker/testnet/baseline"
)

// Backend implements baseline.Backend for the flat DHT.
type Backend struct {
	cfg   *baseline.Config
	n     *baseline.Node
	h     host.Host
	d     *dht.IpfsDHT
	addrs []string

	served atomic.Int64 // DHT requests served (OnRequestHook)
	meter  *baseline.LoadMeter
	stop   context.CancelFunc
	wg     sync.WaitGroup
}

// New returns the backend; Start does the work.
func New(cfg *baseline.Config) (*Backend, error) { return &Backend{cfg: cfg}, nil }

// Start starts the libp2p host and the kad-dht server, connects to the
// bootstrap peers it was given (bounded) and bootstraps the routing table.
func (b *Backend) Start(ctx context.Context, n *baseline.Node) error {
	b.n = n
	if !n.Debug && os.Getenv("GOLOG_LOG_LEVEL") == "" {
		_ = golog.SetLogLevel("*", "error")
		_ = golog.SetLogLevel("net/identify", "fatal")
		_ = golog.SetLogLevel("basichost", "fatal")
	}
	key, err := identity.Load(n.DataDir)
	if err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	listen, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/%d", n.IP, n.Port))
	if err != nil {
		return err
	}
	// The same resource limits as the overlay's nodes (cmd/supertracker).
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	partial := rcmgr.PartialLimitConfig{
		System:    rcmgr.ResourceLimits{ConnsInbound: 2048, Conns: 4096, StreamsInbound: 16384, Streams: 32768},
		Transient: rcmgr.ResourceLimits{ConnsInbound: 512, Conns: 1024},
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(limits.AutoScale())))
	if err != nil {
		return err
	}
	h, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrs(listen), libp2p.ResourceManager(mgr))
	if err != nil {
		mgr.Close()
		return fmt.Errorf("libp2p host: %w", err)
	}
	b.h = h
	var boot []peer.AddrInfo
	for _, s := range n.Peers {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if ai, err := peer.AddrInfoFromP2pAddr(a); err == nil && ai.ID != h.ID() {
			boot = append(boot, *ai)
		}
	}
	opts := []dht.Option{
		dht.Mode(dht.ModeServer),
		dht.ProtocolPrefix(protocol.ID(b.cfg.Prefix)),
		dht.BootstrapPeers(boot...),
		dht.OnRequestHook(func(context.Context, network.Stream, *pb.Message) { b.served.Add(1) }),
	}
	if b.cfg.BucketSize > 0 {
		opts = append(opts, dht.BucketSize(b.cfg.BucketSize))
	}
	d, err := dht.New(h, opts...)
	if err != nil {
		return fmt.Errorf("kad-dht: %w", err)
	}
	b.d = d
	// Connect to the peers given (a restarted node rejoins through them).
	var wg sync.WaitGroup
	for _, ai := range boot {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			defer cancel()
			_ = h.Connect(cctx, ai)
		})
	}
	wg.Wait()
	if err := d.Bootstrap(ctx); err != nil {
		return err
	}
	for _, a := range h.Addrs() {
		b.addrs = append(b.addrs, fmt.Sprintf("%s/p2p/%s", a, h.ID()))
	}
	mctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	b.meter = &baseline.LoadMeter{PID: os.Getpid(), Count: func() (int64, bool) { return b.served.Load(), true }}
	b.wg.Go(func() { b.meter.Run(mctx, time.Second) })
	return nil
}

// Addrs returns the host's full multiaddrs.
func (b *Backend) Addrs() []string { return b.addrs }

// PeerID returns the host's peer ID.
func (b *Backend) PeerID() string { return b.h.ID().String() }

// Status: every flat-DHT node is a DHT server, so it reports role
// supernode, with its routing table size, requests served per second and
// the busy fraction of its process.
func (b *Backend) Status(st *baseline.Status) {
	st.Role = httpapi.RoleSupernode
	rt := b.d.RoutingTable().Size()
	st.RoutingTable = &rt
	zero := 0
	st.Leaves = &zero
	if rate, rho, ok := b.meter.Sample(); ok {
		st.Rho, st.ReqPerS = &rho, &rate
	}
}

// Close stops the DHT and the host.
func (b *Backend) Close() error {
	if b.stop != nil {
		b.stop()
	}
	b.wg.Wait()
	var errs []error
	if b.d != nil {
		errs = append(errs, b.d.Close())
	}
	if b.h != nil {
		errs = append(errs, b.h.Close())
	}
	return errors.Join(errs...)
}

// Announce is Provide(c, true) for every CID (store locally, then put the
// provider record on the k closest peers).
func (b *Backend) Announce(ctx context.Context, cids []cid.Cid) (int, error) {
	for _, c := range cids {
		if err := b.d.Provide(ctx, c, true); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// Lookup runs FindProvidersAsync(c, limit) and reads it until limit
// providers arrived, the query ended or ctx (the node's lookup wait) ends,
// counting the DHT requests it sends.
func (b *Backend) Lookup(ctx context.Context, c cid.Cid, limit int) ([]httpapi.Holder, baseline.LookupInfo, error) {
	var info baseline.LookupInfo
	evCtx, cancelEv := context.WithCancel(ctx)
	qctx, events := routing.RegisterForQueryEvents(evCtx)
	var rpcs int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range events {
			if ev.Type == routing.SendingQuery {
				rpcs++
			}
		}
	}()
	var holders []httpapi.Holder
	start := time.Now()
	ch := b.d.FindProvidersAsync(qctx, c, limit)
	for ai := range ch {
		if info.First == 0 {
			info.First = time.Since(start)
		}
		h := httpapi.Holder{PeerID: ai.ID.String()}
		for _, a := range ai.Addrs {
			h.Addrs = append(h.Addrs, fmt.Sprintf("%s/p2p/%s", a, ai.ID))
		}
		holders = append(holders, h)
		if len(holders) >= limit {
			// Enough: answer now. The channel closes only when the query's
			// RPCs in flight have returned, which can take a second.
			break
		}
	}
	cancelEv() // stops the query (qctx derives from evCtx)
	for range ch {
	}
	<-done
	info.RPCs = rpcs
	// Running out of time is not an error: the lookup answers with what it
	// found, as a client reading the channel until its deadline would.
	return holders, info, nil
}
