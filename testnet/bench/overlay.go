package bench

// Everything the bench knows about the overlay is in this file (and the
// load generator in loadgen.go): its configuration, how its nodes start,
// announce and look up, what a leaf process's command line is, and how a
// supernode stores a record. The rest of the package speaks only in
// indexes, CIDs, counts and durations, so a change to the supernode record
// path or the leaf session is adapted here.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/supernode"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// replicationFactor is r: the supernode default.
var replicationFactor = supernode.DefaultConfig().ReplicationFactor

// supernodeConfig is the daemon's default supernode configuration (r, TTL,
// heartbeats, timeouts, gossip) with the bench's changes: no logs; replica
// diversity and the per-prefix leaf bound off, as every in-process host
// shares 127.0.0.1 (testnet/inproc does the same); caps high enough for the
// bench's record volume; and the admission limiters opened up (the per-peer
// request bucket, 50 req/s by default, also meters supernode↔supernode
// traffic, and the CID budgets are 2000/s per leaf and 20000/s in total),
// so that P3 measures the record path, not a limiter.
func supernodeConfig() supernode.Config {
	c := supernode.DefaultConfig()
	c.Logger = quietLog
	c.PrefixBits4, c.PrefixBits6 = 0, 0
	c.MaxLeavesPerPrefix = 0
	c.MaxLeaves = 1000
	c.MaxRecordsPerLeaf = 1 << 24
	c.RequestsPerSecond = 1e6
	c.RequestBurst = 1 << 20
	c.CIDsPerSecond = supernode.CIDRates{} // unbounded
	return c
}

// leafConfig is the daemon's default leaf configuration, quiet, knowing sns.
func leafConfig(sns []peer.AddrInfo, backups int) leaf.Config {
	c := leaf.DefaultConfig()
	c.Supernodes = sns
	c.Backups = backups
	c.Logger = quietLog
	return c
}

// overlayNet is an in-process overlay: S supernodes (each with its own
// leveldb datastore, as the daemon keeps one) and leaf agents, every node a
// real libp2p host on 127.0.0.1.
type overlayNet struct {
	dir    string
	sns    []*supernode.Node
	snIdx  map[peer.ID]int
	stores []*leveldb.Datastore
	hosts  []host.Host

	mu      sync.Mutex
	leaves  []*leaf.Agent
	servers []*http.Server
	clients map[int]*httpapi.Client
}

// startOverlay starts s supernodes, all bootstrapped to the first,
// connects each to all, and waits until every membership view holds all of
// them.
func startOverlay(ctx context.Context, dir string, s int) (o *overlayNet, err error) {
	o = &overlayNet{dir: dir, snIdx: make(map[peer.ID]int), clients: make(map[int]*httpapi.Client)}
	defer func() {
		if err != nil {
			o.close()
			o = nil
		}
	}()
	o.sns = make([]*supernode.Node, s)
	o.stores = make([]*leveldb.Datastore, s)
	start := func(i int, boot []peer.AddrInfo) error {
		h, err := newHost()
		if err != nil {
			return err
		}
		d, err := openLevelDB(filepath.Join(dir, "sn"+strconv.Itoa(i)))
		if err != nil {
			h.Close()
			return err
		}
		c := supernodeConfig()
		c.BootstrapPeers = boot
		c.Datastore = d
		sn, err := supernode.New(h, c)
		if err != nil {
			h.Close()
			d.Close()
			return err
		}
		o.mu.Lock()
		o.sns[i], o.stores[i] = sn, d
		o.hosts = append(o.hosts, h)
		o.snIdx[h.ID()] = i
		o.mu.Unlock()
		return nil
	}
	if err := start(0, nil); err != nil {
		return o, err
	}
	boot := []peer.AddrInfo{o.sns[0].AddrInfo()}
	if err := parallel(s-1, 8, func(i int) error { return start(i+1, boot) }); err != nil {
		return o, err
	}
	// Gossip (every 10 s by default) would fill the views in a minute or
	// so; one Connect to every supernode completes them now.
	infos := make([]peer.AddrInfo, s)
	for i, sn := range o.sns {
		infos[i] = sn.AddrInfo()
	}
	// Each pair is dialled once, from the later supernode: two hosts that
	// dial each other at once from their reused listen ports meet in a TCP
	// simultaneous open, which the TLS handshake refuses.
	if err := parallel(s, 8, func(i int) error { return o.sns[i].Connect(ctx, infos[:i]) }); err != nil && s > 1 {
		return o, fmt.Errorf("connecting supernodes: %w", err)
	}
	err = waitUntil(ctx, 60*time.Second, "supernode membership views", func() bool {
		for _, sn := range o.sns {
			if sn.MemberCount() < s {
				return false
			}
		}
		return true
	})
	return o, err
}

// supernodes is S.
func (o *overlayNet) supernodes() int { return len(o.sns) }

// addLeaves starts n leaf agents; leaf i knows the supernodes sns(i) and
// attaches to backups of them besides its primary. It waits until each
// has a primary and returns their indexes.
func (o *overlayNet) addLeaves(ctx context.Context, n, backups int, sns func(i int) []int) ([]int, error) {
	first := func() int {
		o.mu.Lock()
		defer o.mu.Unlock()
		l := len(o.leaves)
		o.leaves = append(o.leaves, make([]*leaf.Agent, n)...)
		return l
	}()
	err := parallel(n, 16, func(i int) error {
		var infos []peer.AddrInfo
		for _, j := range sns(i) {
			infos = append(infos, o.sns[j].AddrInfo())
		}
		h, err := newHost()
		if err != nil {
			return err
		}
		a, err := leaf.New(h, leafConfig(infos, backups))
		if err != nil {
			h.Close()
			return err
		}
		o.mu.Lock()
		o.leaves[first+i] = a
		o.hosts = append(o.hosts, h)
		o.mu.Unlock()
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return a.WaitAttached(actx)
	})
	idx := make([]int, n)
	for i := range idx {
		idx[i] = first + i
	}
	return idx, err
}

// spread is the supernode choice of ordinary leaves: leaf i knows four
// consecutive supernodes starting at i mod S (all of them when S ≤ 4).
func (o *overlayNet) spread(i int) []int {
	s := len(o.sns)
	out := make([]int, 0, min(4, s))
	for k := range min(4, s) {
		out = append(out, (i+k)%s)
	}
	return out
}

// serveAPI serves leaf l's HTTP API (protocol/httpapi) on 127.0.0.1.
func (o *overlayNet) serveAPI(l int) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := httpapi.Guard(httpapi.NewHandler(&leaf.APIBackend{Agent: o.leaves[l], Started: time.Now()}),
		httpapi.GuardConfig{ListenHost: "127.0.0.1"}) // as the daemon serves it on loopback
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	o.mu.Lock()
	o.servers = append(o.servers, srv)
	o.clients[l] = httpapi.NewClient(ln.Addr().String())
	o.mu.Unlock()
	return nil
}

func (o *overlayNet) client(l int) (*httpapi.Client, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.clients[l]
	if c == nil {
		return nil, fmt.Errorf("leaf %d serves no API", l)
	}
	return c, nil
}

// announceHTTP announces cids through leaf l's HTTP API (POST /v1/announce,
// answered once the overlay stored them).
func (o *overlayNet) announceHTTP(ctx context.Context, l int, cids []cid.Cid) error {
	c, err := o.client(l)
	if err != nil {
		return err
	}
	ss := make([]string, len(cids))
	for i, x := range cids {
		ss[i] = x.String()
	}
	r, err := c.Announce(ctx, ss)
	if err != nil {
		return err
	}
	if r.Accepted != len(cids) {
		return fmt.Errorf("announce: %d of %d accepted", r.Accepted, len(cids))
	}
	return nil
}

// announceGo announces cids through leaf l's Go API and returns how many the
// overlay accepted and on how many supernodes (the fewest of any batch).
func (o *overlayNet) announceGo(ctx context.Context, l int, cids []cid.Cid) (accepted, replicas int, err error) {
	r, err := o.leaves[l].Announce(ctx, cids)
	return r.Accepted, r.Replicas, err
}

// storedRecords is the sum of the records every supernode reports storing
// (each record counts once per copy).
func (o *overlayNet) storedRecords() int {
	total := 0
	for _, sn := range o.sns {
		total += sn.Stats().Records
	}
	return total
}

// lookupHTTP looks c up through leaf l's HTTP API (limit 0: no limit
// parameter, the API's default) and returns the number of holders.
func (o *overlayNet) lookupHTTP(ctx context.Context, l int, c cid.Cid, limit int) (int, error) {
	cl, err := o.client(l)
	if err != nil {
		return 0, err
	}
	r, err := cl.Lookup(ctx, c.String(), limit)
	if err != nil {
		return 0, err
	}
	return len(r.Holders), nil
}

// lookupGo looks c up with leaf.Agent.Lookup (limit 0: the default).
func (o *overlayNet) lookupGo(ctx context.Context, l int, c cid.Cid, limit int) (int, error) {
	hs, err := o.leaves[l].Lookup(ctx, c, limit)
	return len(hs), err
}

// primary is the index of leaf l's primary supernode (-1: none).
func (o *overlayNet) primary(l int) int {
	if i, ok := o.snIdx[o.leaves[l].Primary()]; ok {
		return i
	}
	return -1
}

// supernodeAddrs are full multiaddrs (…/p2p/ID) of the given supernodes.
func (o *overlayNet) supernodeAddrs(idx []int) []string {
	var out []string
	for _, i := range idx {
		out = append(out, httpapi.FullAddrs(o.sns[i].AddrInfo())...)
	}
	return out
}

// leafProcessArgs is the command line of a leaf process attached to the
// given supernodes (the daemon: bin/supertracker-leaf leaf …).
func leafProcessArgs(dataDir, api string, supernodeAddrs []string) []string {
	sns := ""
	for i, a := range supernodeAddrs {
		if i > 0 {
			sns += ","
		}
		sns += a
	}
	return []string{"leaf", "--listen", "/ip4/127.0.0.1/tcp/0", "--data", dataDir, "--supernode", sns,
		"--api", api, "--log-level", "warn"}
}

// leafProcessReady reports whether the leaf process behind api has a
// primary and its backups (as many as the known supernodes allow).
func leafProcessReady(ctx context.Context, api string, known int) bool {
	st, err := httpapi.NewClient(api).Status(ctx)
	return err == nil && len(st.Supernodes) >= min(known, 1+leaf.DefaultConfig().Backups)
}

// close stops every leaf, API server and supernode and closes every host
// and datastore; it returns how many hosts did not close in time.
func (o *overlayNet) close() int {
	o.mu.Lock()
	leaves, servers := o.leaves, o.servers
	o.leaves, o.servers = nil, nil
	o.mu.Unlock()
	for _, s := range servers {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = s.Shutdown(ctx)
		cancel()
	}
	_ = parallel(len(leaves), 16, func(i int) error {
		if leaves[i] != nil {
			_ = leaves[i].Close()
		}
		return nil
	})
	_ = parallel(len(o.sns), 8, func(i int) error {
		if o.sns[i] != nil {
			_ = o.sns[i].Close()
		}
		return nil
	})
	abandoned := closeHosts(o.hosts)
	for _, d := range o.stores {
		if d != nil {
			_ = d.Close()
		}
	}
	return abandoned
}

// recordSet is P5's workload: leaves, each with a key, an address and the
// CIDs it holds.
type recordSet struct {
	leaves []recordLeaf
	total  int
}

type recordLeaf struct {
	key   crypto.PrivKey
	id    peer.ID
	addrs []ma.Multiaddr
	cids  []cid.Cid
}

// newRecordSet spreads records over leaves: object k is held by holders
// consecutive leaves, so records = objects × holders.
func newRecordSet(records, holders, leaves int) (*recordSet, error) {
	set := &recordSet{leaves: make([]recordLeaf, leaves)}
	for i := range set.leaves {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			return nil, err
		}
		a, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/10.%d.%d.%d/tcp/4001", i>>16&255, i>>8&255, i&255))
		if err != nil {
			return nil, err
		}
		set.leaves[i] = recordLeaf{key: k, id: id, addrs: []ma.Multiaddr{a}}
	}
	for r := range records {
		obj, h := r/holders, r%holders
		l := &set.leaves[(obj*holders+h)%leaves]
		l.cids = append(l.cids, benchCID("store", obj))
	}
	set.total = records
	return set, nil
}

// overlayStore is one supernode with a leveldb datastore, filled through
// its public record path (Node.Announce, as the leaf protocol calls it:
// verify once, place on the view's replicas, which are just itself here,
// store, sign a receipt) with announcements signed beforehand.
type overlayStore struct {
	dir  string
	h    host.Host
	d    *leveldb.Datastore
	sn   *supernode.Node
	anns []signedBatch
}

type signedBatch struct {
	leaf     peer.ID
	envelope []byte
	cids     [][]byte
}

func newOverlayStore(dir string) (*overlayStore, error) {
	d, err := openLevelDB(dir)
	if err != nil {
		return nil, err
	}
	h, err := newHost()
	if err != nil {
		d.Close()
		return nil, err
	}
	c := supernodeConfig()
	c.Datastore = d
	sn, err := supernode.New(h, c)
	if err != nil {
		h.Close()
		d.Close()
		return nil, err
	}
	return &overlayStore{dir: dir, h: h, d: d, sn: sn}, nil
}

// prepare signs set's announcements (batches of the protocol's maximum
// CIDs); it is kept out of the measurement.
func (s *overlayStore) prepare(set *recordSet) error {
	lim := protocol.DefaultLimits
	exp := time.Now().Add(supernodeConfig().RecordTTL)
	seq := uint64(time.Now().UnixNano())
	s.anns = s.anns[:0]
	for _, l := range set.leaves {
		for cids := l.cids; len(cids) > 0; {
			batch := cids[:min(len(cids), lim.MaxCIDsPerAnnouncement)]
			cids = cids[len(batch):]
			seq++
			env, err := lim.SignAnnouncement(&protocol.Announcement{Peer: l.id, Addrs: l.addrs, Seq: seq, Expires: exp}, batch, l.key)
			if err != nil {
				return err
			}
			s.anns = append(s.anns, signedBatch{leaf: l.id, envelope: env, cids: protocol.CIDsToBytes(batch)})
		}
	}
	return nil
}

// insert announces every prepared batch and checks each was stored.
func (s *overlayStore) insert(ctx context.Context) error {
	for _, a := range s.anns {
		out, err := s.sn.Announce(ctx, a.leaf, a.envelope, a.cids)
		if err != nil {
			return err
		}
		if out.Accepted != len(a.cids) || out.MinReplicas() < 1 {
			return fmt.Errorf("announce of %d CIDs: %d accepted, %d replicas", len(a.cids), out.Accepted, out.MinReplicas())
		}
	}
	return nil
}

// records is what the supernode reports storing.
func (s *overlayStore) records() int { return s.sn.Stats().Records }

// diskBytes closes the supernode (flushing its store), compacts the
// datastore and returns its size.
func (s *overlayStore) diskBytes() (int64, error) {
	s.anns = nil
	err := errors.Join(s.sn.Close(), s.h.Close())
	n, cerr := compactedSize(s.d, s.dir)
	return n, errors.Join(err, cerr)
}

func (s *overlayStore) close() {
	_ = s.sn.Close()
	_ = s.h.Close()
	_ = s.d.Close()
}
