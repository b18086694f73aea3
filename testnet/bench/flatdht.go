package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ipfs/go-cid"
	leveldb "github.com/ipfs/go-ds-leveldb"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/baseline"
)

// flatNet is the flat kad-dht baseline in process: n stock kad-dht servers
// (Mode(ModeServer), protocol prefix /flatdht, every other option the
// library's default), as testnet/baseline/flatdht runs them, on real
// libp2p hosts on 127.0.0.1.
type flatNet struct {
	hosts []host.Host
	dhts  []*dht.IpfsDHT
}

func flatOptions(boot []peer.AddrInfo) []dht.Option {
	opts := []dht.Option{dht.Mode(dht.ModeServer), dht.ProtocolPrefix(protocol.ID(baseline.DefaultPrefix))}
	if len(boot) > 0 {
		opts = append(opts, dht.BootstrapPeers(boot...))
	}
	return opts
}

// startFlat starts n servers: each connects to up to 4 random earlier ones, then
// every routing table is refreshed until it holds min(n-1, 20) peers.
func startFlat(ctx context.Context, n int) (f *flatNet, err error) {
	f = &flatNet{hosts: make([]host.Host, n), dhts: make([]*dht.IpfsDHT, n)}
	defer func() {
		if err != nil {
			f.close()
			f = nil
		}
	}()
	for i := range n {
		h, err := newHost()
		if err != nil {
			return f, err
		}
		f.hosts[i] = h
		var boot []peer.AddrInfo
		rng := rand.New(rand.NewPCG(uint64(i), 1))
		for _, j := range rng.Perm(i)[:min(i, 4)] {
			boot = append(boot, peer.AddrInfo{ID: f.hosts[j].ID(), Addrs: f.hosts[j].Addrs()})
		}
		d, err := dht.New(h, flatOptions(boot)...)
		if err != nil {
			return f, fmt.Errorf("kad-dht: %w", err)
		}
		f.dhts[i] = d
		for _, b := range boot {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := h.Connect(cctx, b)
			cancel()
			if err != nil {
				return f, fmt.Errorf("flat node %d connecting: %w", i, err)
			}
		}
	}
	want := min(n-1, 20)
	ref := newRefresher(time.Second)
	err = waitUntil(ctx, 120*time.Second, "flat kad-dht routing tables", func() bool {
		ok := true
		for i, d := range f.dhts {
			if d.RoutingTable().Size() < want {
				if ref.due(i) {
					d.RefreshRoutingTable()
				}
				ok = false
			}
		}
		return ok
	})
	return f, err
}

// addrs returns node i's full multiaddrs.
func (f *flatNet) addrs(i int) []string {
	return httpapi.FullAddrs(peer.AddrInfo{ID: f.hosts[i].ID(), Addrs: f.hosts[i].Addrs()})
}

// provide is Provide(c, true) on node i.
func (f *flatNet) provide(ctx context.Context, i int, c cid.Cid) error {
	return f.dhts[i].Provide(ctx, c, true)
}

// findFirst runs FindProvidersAsync(c, 1) on node i and returns once the
// first provider arrives (false: none before ctx ended or the query ran
// out), as the flat-DHT baseline node does.
func (f *flatNet) findFirst(ctx context.Context, i int, c cid.Cid) bool {
	qctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := f.dhts[i].FindProvidersAsync(qctx, c, 1)
	_, ok := <-ch
	cancel()
	for range ch { // the channel closes once the query's RPCs returned
	}
	return ok
}

// close stops every node; it returns how many hosts did not close in time.
func (f *flatNet) close() int {
	_ = parallel(len(f.dhts), 16, func(i int) error {
		if f.dhts[i] != nil {
			_ = f.dhts[i].Close()
		}
		return nil
	})
	return closeHosts(f.hosts)
}

// flatProcessArgs writes the flat-DHT baseline config into dir and returns
// the helper's arguments after "baseline-node": one server process
// bootstrapped through the given peers (testnet/baseline/helper).
func flatProcessArgs(dir, api string, boot []string) ([]string, error) {
	cfgPath := filepath.Join(dir, "flatdht.json")
	cfg := &baseline.Config{Design: baseline.DesignFlatDHT}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := baseline.WriteConfig(cfgPath, cfg); err != nil {
		return nil, err
	}
	bs := ""
	for i, b := range boot {
		if i > 0 {
			bs += ","
		}
		bs += b
	}
	return []string{"-config", cfgPath, "supernode", "--listen", "/ip4/127.0.0.1/tcp/0",
		"--data", filepath.Join(dir, "data"), "--api", api, "--bootstrap", bs, "--log-level", "error"}, nil
}

// flatProcessReady reports whether the flat-DHT process behind api has a
// routing table of at least want peers.
func flatProcessReady(ctx context.Context, api string, want int) bool {
	st, err := httpapi.NewClient(api).Status(ctx)
	return err == nil && st.RoutingTable != nil && *st.RoutingTable >= want
}

// HelperCommand builds the command that runs the baseline node helper
// (testnet/baseline/helper.Main) with args.
type HelperCommand func(args ...string) *exec.Cmd

// kadStore is stock kad-dht's provider store (dht.ProviderStore()) on a
// leveldb datastore: P5's baseline, filled with AddProvider.
type kadStore struct {
	dir string
	h   host.Host
	d   *leveldb.Datastore
	k   *dht.IpfsDHT
}

func newKadStore(dir string) (*kadStore, error) {
	d, err := openLevelDB(dir)
	if err != nil {
		return nil, err
	}
	h, err := newHost()
	if err != nil {
		d.Close()
		return nil, err
	}
	k, err := dht.New(h, append(flatOptions(nil), dht.Datastore(d))...)
	if err != nil {
		h.Close()
		d.Close()
		return nil, err
	}
	return &kadStore{dir: dir, h: h, d: d, k: k}, nil
}

func (s *kadStore) insert(ctx context.Context, set *recordSet) error {
	ps := s.k.ProviderStore()
	for _, l := range set.leaves {
		info := peer.AddrInfo{ID: l.id, Addrs: l.addrs}
		for _, c := range l.cids {
			if err := ps.AddProvider(ctx, c.Hash(), info); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *kadStore) diskBytes() (int64, error) {
	err := errors.Join(s.k.Close(), s.h.Close())
	n, cerr := compactedSize(s.d, s.dir)
	return n, errors.Join(err, cerr)
}

func (s *kadStore) close() {
	_ = s.k.Close()
	_ = s.h.Close()
	_ = s.d.Close()
	_ = os.RemoveAll(s.dir)
}
