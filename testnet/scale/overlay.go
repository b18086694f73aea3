package scale

// Everything the scale mode knows about the overlay's own code lives in
// this file: how supernodes and leaves are configured (the Internet
// defaults of packages supernode, leaf and election), started, attached,
// and asked to announce and look up. When the record path or the leaf
// session changes, this is the file to adapt.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// SupernodeCount is the supernode count the election settles at for n
// peers with its defaults: it promotes when the supernodes' sessions fill
// PromoteFill of MaxLeaves, and every leaf holds 1+Backups sessions (a
// primary and its backups all count against MaxLeaves). The smallest S
// with (1+m)·(n−S) ≤ PromoteFill·MaxLeaves·S: S = ⌈n / (1 + PromoteFill·
// MaxLeaves/(1+m))⌉ (n = 1000: 63, 15 primaries and 45 sessions each).
func SupernodeCount(n int) int {
	e, l := election.DefaultConfig(), leaf.DefaultConfig()
	per := e.PromoteFill * float64(e.MaxLeaves) / float64(1+l.Backups)
	return max(1, int(math.Ceil(float64(n)/(1+per)-1e-9)))
}

// overlaySupernodeConfig is supernode.DefaultConfig (the Internet
// settings) with the election's leaf capacity, as runner.Config applies
// it to a promoted node.
func overlaySupernodeConfig() supernode.Config {
	c := supernode.DefaultConfig()
	c.MaxLeaves = election.DefaultConfig().MaxLeaves
	c.Logger = quiet
	return c
}

// overlayLeafConfig is leaf.DefaultConfig (a desktop agent).
func overlayLeafConfig(sns []peer.AddrInfo, requestTimeout time.Duration) leaf.Config {
	c := leaf.DefaultConfig()
	c.Supernodes = sns
	c.Logger = quiet
	c.RequestTimeout = requestTimeout
	return c
}

type overlay struct {
	w   *world
	s   *Schedule
	rng *rand.Rand

	mu     sync.Mutex
	sns    map[int]*supernode.Node
	leaves map[int]*leaf.Agent
}

func newOverlay() *overlay {
	return &overlay{sns: map[int]*supernode.Node{}, leaves: map[int]*leaf.Agent{}}
}

func (o *overlay) name() string { return DesignOverlay }

func (o *overlay) params() map[string]any {
	sc, lc, ec := overlaySupernodeConfig(), leaf.DefaultConfig(), election.DefaultConfig()
	return map[string]any{
		"supernodes":           len(o.s.Supernodes),
		"replication_r":        sc.ReplicationFactor,
		"record_ttl":           sc.RecordTTL.String(),
		"max_leaves":           sc.MaxLeaves,
		"leaf_backups_m":       lc.Backups,
		"leaf_heartbeat":       lc.HeartbeatInterval.String(),
		"promote_fill":         ec.PromoteFill,
		"min_uptime":           ec.MinUptime.String(),
		"bootstrap_supernodes": o.s.Cfg.BootstrapSupernodes,
		"lookup_fanout":        sc.LookupFanout,
		"gossip_interval":      sc.GossipInterval.String(),
	}
}

func (o *overlay) role(slot int) string {
	if o.s.Slots[slot].Supernode {
		return "supernode"
	}
	return "leaf"
}

func (o *overlay) setup(ctx context.Context, s *Schedule, w *world) error {
	o.w, o.s = w, s
	o.rng = rand.New(rand.NewPCG(s.Cfg.Seed, 0x0e71a7))
	cfg := overlaySupernodeConfig()
	var first []peer.AddrInfo
	for _, slot := range s.Supernodes {
		n, err := w.add(slot)
		if err != nil {
			return err
		}
		c := cfg
		c.BootstrapPeers = pick(o.rng, first, 4)
		sn, err := supernode.New(n.h, c)
		if err != nil {
			return fmt.Errorf("supernode %d: %w", slot, err)
		}
		o.mu.Lock()
		o.sns[slot] = sn
		o.mu.Unlock()
		first = append(first, sn.AddrInfo())
	}
	// Every supernode's membership view holds every supernode (placement
	// and one-hop lookups use it).
	want := len(s.Supernodes)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		low := 0
		for _, sn := range o.supernodes() {
			if sn.MemberCount() < want {
				low++
			}
		}
		if low == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("overlay: %d supernodes' membership views below %d after 3 min", low, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	var leaves []int
	for _, slot := range s.Initial {
		if !s.Slots[slot].Supernode {
			leaves = append(leaves, slot)
		}
	}
	return parallel(ctx, leaves, 64, func(ctx context.Context, slot int) error {
		return o.join(ctx, slot)
	})
}

func (o *overlay) supernodes() []*supernode.Node {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]*supernode.Node, 0, len(o.sns))
	for _, sn := range o.sns {
		out = append(out, sn)
	}
	return out
}

// join starts a leaf that knows BootstrapSupernodes live supernodes, waits
// until it is attached, and announces what it holds.
func (o *overlay) join(ctx context.Context, slot int) error {
	n, err := o.w.add(slot)
	if err != nil {
		return err
	}
	o.mu.Lock()
	var infos []peer.AddrInfo
	for _, s := range slices.Sorted(maps.Keys(o.sns)) {
		infos = append(infos, o.sns[s].AddrInfo())
	}
	known := pick(o.rng, infos, o.s.Cfg.BootstrapSupernodes)
	o.mu.Unlock()
	a, err := leaf.New(n.h, overlayLeafConfig(known, o.s.Cfg.LookupTimeout))
	if err != nil {
		return err
	}
	o.mu.Lock()
	o.leaves[slot] = a
	o.mu.Unlock()
	actx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := a.WaitAttached(actx); err != nil {
		return fmt.Errorf("leaf %d: %w", slot, err)
	}
	return o.announce(ctx, slot, o.s.Slots[slot].Holds)
}

func (o *overlay) leave(slot int) {
	o.mu.Lock()
	sn, a := o.sns[slot], o.leaves[slot]
	delete(o.sns, slot)
	delete(o.leaves, slot)
	o.mu.Unlock()
	go func() { // the host is closed already: these only stop goroutines
		if sn != nil {
			sn.Close()
		}
		if a != nil {
			a.Close()
		}
	}()
}

func (o *overlay) agent(slot int) (*leaf.Agent, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a := o.leaves[slot]
	if a == nil {
		return nil, fmt.Errorf("slot %d is not a live leaf", slot)
	}
	return a, nil
}

func (o *overlay) announce(ctx context.Context, slot int, objs []int) error {
	a, err := o.agent(slot)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, 2*o.s.Cfg.LookupTimeout)
	defer cancel()
	_, err = a.Announce(actx, objectCIDs(objs))
	return err
}

func (o *overlay) lookup(ctx context.Context, slot, obj int, _ func(peer.ID) bool) ([]peer.ID, error) {
	a, err := o.agent(slot)
	if err != nil {
		return nil, err
	}
	hs, err := a.Lookup(ctx, objectCID(obj), 0)
	out := make([]peer.ID, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out, err
}

// upkeep: the supernodes' kad routing-table refresh (kad-dht's 10 min; the
// membership gossip is continuous and shows in the quiet window), and the
// leaves' record refresh (every RecordTTL·RefreshFraction).
func (o *overlay) upkeep() []upkeepTask {
	sc, lc := overlaySupernodeConfig(), leaf.DefaultConfig()
	return []upkeepTask{
		{Name: "supernodes: kad routing-table refresh", Period: 10 * time.Minute, Fraction: 1,
			Run: func(ctx context.Context) error {
				return parallel(ctx, o.supernodes(), 16, func(ctx context.Context, sn *supernode.Node) error {
					select {
					case <-sn.DHT().RefreshRoutingTable():
					case <-ctx.Done():
					}
					return nil
				})
			}},
		{Name: "leaves: record refresh (re-announce)", Period: time.Duration(float64(sc.RecordTTL) * lc.RefreshFraction), Fraction: upkeepSample,
			Run: func(ctx context.Context) error {
				o.mu.Lock()
				slots := sample(o.rng, slices.Sorted(maps.Keys(o.leaves)), upkeepSample)
				o.mu.Unlock()
				return parallel(ctx, slots, 64, func(ctx context.Context, slot int) error {
					return o.announce(ctx, slot, o.s.Slots[slot].Holds)
				})
			}},
	}
}

func (o *overlay) close() {
	o.mu.Lock()
	sns, leaves := o.sns, o.leaves
	o.sns, o.leaves = map[int]*supernode.Node{}, map[int]*leaf.Agent{}
	o.mu.Unlock()
	var wg sync.WaitGroup
	for _, a := range leaves {
		wg.Go(func() { a.Close() })
	}
	for _, sn := range sns {
		wg.Go(func() { sn.Close() })
	}
	wg.Wait()
}

// upkeepSample: the fraction of nodes a per-node periodic task is measured
// on (a full round of 1,000 nodes takes minutes).
const upkeepSample = 0.25

// overlayLeafSessions: supernodes a leaf holds a session with (1+m).
func overlayLeafSessions() float64 { return float64(1 + leaf.DefaultConfig().Backups) }

// overlayReplicas: r, the supernodes a record lives on.
func overlayReplicas() int { return overlaySupernodeConfig().ReplicationFactor }

// overlayRefreshPeriod: how often a leaf re-announces.
func overlayRefreshPeriod() time.Duration {
	return time.Duration(float64(overlaySupernodeConfig().RecordTTL) * leaf.DefaultConfig().RefreshFraction)
}
