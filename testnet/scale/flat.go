package scale

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// FlatPrefix is the flat DHT's protocol prefix (as testnet/baseline's).
const FlatPrefix = "/flatdht"

// flatWant is the provider count a flat lookup asks FindProvidersAsync
// for; the lookup stops at the first live one (a client dials providers
// as they arrive).
const flatWant = 20

// flat is the baseline: every peer a stock go-libp2p-kad-dht server with
// its defaults (k = 20, α = 10, provider records on the k closest),
// publishing with Provide and looking up with FindProvidersAsync, as IPFS
// does, with no supernodes.
type flat struct {
	w   *world
	s   *Schedule
	rng *rand.Rand

	mu    sync.Mutex
	nodes map[int]*dht.IpfsDHT
}

func newFlat() *flat { return &flat{nodes: map[int]*dht.IpfsDHT{}} }

func (f *flat) name() string { return DesignFlat }

func (f *flat) role(int) string { return "dht" }

func (f *flat) params() map[string]any {
	return map[string]any{"prefix": FlatPrefix, "bucket_size_k": 20, "alpha": 10,
		"lookup": fmt.Sprintf("FindProvidersAsync(cid, %d), first live provider", flatWant)}
}

func (f *flat) start(slot int) (*dht.IpfsDHT, error) {
	n, err := f.w.add(slot)
	if err != nil {
		return nil, err
	}
	d, err := dht.New(n.h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(protocol.ID(FlatPrefix)))
	if err != nil {
		return nil, fmt.Errorf("flat %d: %w", slot, err)
	}
	f.mu.Lock()
	f.nodes[slot] = d
	f.mu.Unlock()
	return d, nil
}

// connect dials k random live nodes and refreshes d's routing table.
func (f *flat) connect(ctx context.Context, d *dht.IpfsDHT, k int) {
	f.mu.Lock()
	var infos []peer.AddrInfo
	for _, o := range f.nodes {
		if o != d {
			infos = append(infos, peer.AddrInfo{ID: o.Host().ID(), Addrs: o.Host().Addrs()})
		}
	}
	peers := pick(f.rng, infos, k)
	f.mu.Unlock()
	for _, p := range peers {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_ = d.Host().Connect(cctx, p)
		cancel()
	}
	select {
	case <-d.RefreshRoutingTable():
	case <-ctx.Done():
	}
}

func (f *flat) setup(ctx context.Context, s *Schedule, w *world) error {
	f.w, f.s = w, s
	f.rng = rand.New(rand.NewPCG(s.Cfg.Seed, 0xf1a7))
	for _, slot := range s.Initial {
		if _, err := f.start(slot); err != nil {
			return err
		}
	}
	// A converged DHT: every routing table filled as kad-dht's buckets
	// take peers (each peer offered once, in a seeded random order; a
	// bucket keeps the first k that fit), addresses in the peerstore, no
	// connection yet (mocknet links dial at once on first use). Bootstrapping
	// 1,000 nodes through refresh queries takes minutes and gigabytes; a
	// newcomer (join) does bootstrap for real.
	f.mu.Lock()
	all := make([]*dht.IpfsDHT, 0, len(f.nodes))
	for _, slot := range slices.Sorted(maps.Keys(f.nodes)) {
		all = append(all, f.nodes[slot])
	}
	f.mu.Unlock()
	infos := make([]peer.AddrInfo, len(all))
	for i, d := range all {
		infos[i] = peer.AddrInfo{ID: d.Host().ID(), Addrs: d.Host().Addrs()}
	}
	for _, d := range all {
		for _, i := range f.rng.Perm(len(infos)) {
			ai := infos[i]
			if ai.ID == d.Host().ID() {
				continue
			}
			if ok, _ := d.RoutingTable().TryAddPeer(ai.ID, true, false); ok {
				d.Host().Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
			}
		}
	}
	var holders []int
	for _, slot := range s.Initial {
		if len(s.Slots[slot].Holds) > 0 {
			holders = append(holders, slot)
		}
	}
	return parallel(ctx, holders, 64, func(ctx context.Context, slot int) error {
		return f.announce(ctx, slot, s.Slots[slot].Holds)
	})
}

func (f *flat) join(ctx context.Context, slot int) error {
	d, err := f.start(slot)
	if err != nil {
		return err
	}
	f.connect(ctx, d, 8)
	return f.announce(ctx, slot, f.s.Slots[slot].Holds)
}

func (f *flat) leave(slot int) {
	f.mu.Lock()
	d := f.nodes[slot]
	delete(f.nodes, slot)
	f.mu.Unlock()
	if d != nil {
		go d.Close()
	}
}

func (f *flat) node(slot int) (*dht.IpfsDHT, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.nodes[slot]
	if d == nil {
		return nil, fmt.Errorf("slot %d is not live", slot)
	}
	return d, nil
}

func (f *flat) announce(ctx context.Context, slot int, objs []int) error {
	d, err := f.node(slot)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 2*f.s.Cfg.LookupTimeout)
	defer cancel()
	for _, c := range objectCIDs(objs) {
		if err := d.Provide(actx, c, true); err != nil {
			return err
		}
	}
	return nil
}

func (f *flat) lookup(ctx context.Context, slot, obj int, enough func(peer.ID) bool) ([]peer.ID, error) {
	d, err := f.node(slot)
	if err != nil {
		return nil, err
	}
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := d.FindProvidersAsync(qctx, objectCID(obj), flatWant)
	var out []peer.ID
	for ai := range ch {
		out = append(out, ai.ID)
		if enough(ai.ID) {
			cancel()
			break
		}
	}
	go func() { // drain in the background: the query's RPCs in flight return
		for range ch {
		}
	}()
	if len(out) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return out, nil
}

// upkeep: kad-dht's routing-table refresh (10 min) and the reprovide
// every 22 h (kubo's default; provider records live 48 h).
func (f *flat) upkeep() []upkeepTask {
	all := func() []int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return sample(f.rng, slices.Sorted(maps.Keys(f.nodes)), upkeepSample)
	}
	return []upkeepTask{
		{Name: "kad routing-table refresh", Period: 10 * time.Minute, Fraction: upkeepSample, Run: func(ctx context.Context) error {
			return parallel(ctx, all(), 32, func(ctx context.Context, slot int) error {
				d, err := f.node(slot)
				if err != nil {
					return nil // left meanwhile
				}
				select {
				case <-d.RefreshRoutingTable():
				case <-ctx.Done():
				}
				return nil
			})
		}},
		{Name: "reprovide (kubo: every 22 h)", Period: 22 * time.Hour, Fraction: upkeepSample, Run: func(ctx context.Context) error {
			return parallel(ctx, all(), 64, func(ctx context.Context, slot int) error {
				if len(f.s.Slots[slot].Holds) == 0 {
					return nil
				}
				_ = f.announce(ctx, slot, f.s.Slots[slot].Holds)
				return nil
			})
		}},
	}
}

func (f *flat) close() {
	f.mu.Lock()
	nodes := f.nodes
	f.nodes = map[int]*dht.IpfsDHT{}
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, d := range nodes {
		wg.Go(func() { d.Close() })
	}
	wg.Wait()
}
