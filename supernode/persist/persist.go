// Package persist keeps a supernode durable: its records, its record index
// and its peerstore live in a LevelDB datastore in DATA/datastore, so that a
// restart on the same data dir serves every record that has not expired and
// knows its peers; the supernodes it knew are remembered for the next run.
// A node that may become a supernode opens it once and hands it to every
// supernode service a promotion starts:
//
//	d, err := persist.Open(dataDir, self, cfg.RecordTTL, log)
//	h, err := libp2p.New(libp2p.Peerstore(d.Peerstore), …)
//	cfg.Datastore = d.Store
//	cfg.BootstrapPeers = persist.MergePeers(cfg.BootstrapPeers, d.Known)
//	sn, err := supernode.New(h, cfg)
//	…
//	persist.Remember(h, sn); sn.Close(); h.Close(); d.Store.Close()
package persist

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	leveldb "github.com/ipfs/go-ds-leveldb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/host/peerstore/pstoreds"
	ma "github.com/multiformats/go-multiaddr"
	ldb "github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/filter"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/supertracker/supertracker/supernode"
)

// datastoreDir is the datastore's directory inside the data dir.
const DatastoreDir = "datastore"

// syncInterval bounds what a power loss can take: written data reaches the
// OS at once (a crashed process loses nothing) and the disk within this.
const syncInterval = 5 * time.Second

// Store is go-ds-leveldb's datastore with unsynced writes: go-ds-leveldb
// fsyncs every Put (~0.4 ms here), and the peerstore writes a leaf's
// addresses for every CID it announces. Writes reach the OS at once and the
// disk every syncInterval, on Sync and on Close.
type Store struct {
	*leveldb.Datastore
	dirty atomic.Bool
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

var (
	_       ds.Batching = (*Store)(nil)
	noSync              = &opt.WriteOptions{Sync: false}
	syncKey             = []byte("/supertracker/meta/synced")
)

// OpenStore opens (creating) DATA/datastore. LevelDB locks it: a second
// process on the same data dir fails here.
func OpenStore(dataDir string) (*Store, error) {
	path := filepath.Join(dataDir, DatastoreDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	// A Bloom filter per table (10 bits a key, LevelDB's recommendation):
	// storing a CID first reads the record it may supersede, and most are
	// new, so most of those reads would otherwise search every level. A
	// 16 MiB memtable (default 4) flushes a flood of stores in fewer, larger
	// tables: less compaction, which kept a core busy under a flood.
	d, err := leveldb.NewDatastore(path, &leveldb.Options{Filter: filter.NewBloomFilter(10), WriteBuffer: 16 << 20})
	if err != nil {
		if strings.Contains(err.Error(), "resource temporarily unavailable") {
			return nil, fmt.Errorf("datastore %s is in use: is another supertracker running on --data %s?", path, dataDir)
		}
		return nil, fmt.Errorf("opening datastore %s: %w", path, err)
	}
	s := &Store{Datastore: d, stop: make(chan struct{}), done: make(chan struct{})}
	go s.syncLoop()
	return s, nil
}

func (s *Store) Put(_ context.Context, k ds.Key, v []byte) error {
	s.dirty.Store(true)
	return s.DB.Put(k.Bytes(), v, noSync)
}

func (s *Store) Delete(_ context.Context, k ds.Key) error {
	s.dirty.Store(true)
	return s.DB.Delete(k.Bytes(), noSync)
}

func (s *Store) Batch(context.Context) (ds.Batch, error) {
	return &batch{s: s, b: new(ldb.Batch)}, nil
}

// Sync makes every write so far durable (one fsync of LevelDB's journal).
func (s *Store) Sync(context.Context, ds.Key) error {
	if !s.dirty.Swap(false) {
		return nil
	}
	return s.DB.Put(syncKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)), &opt.WriteOptions{Sync: true})
}

func (s *Store) syncLoop() {
	defer close(s.done)
	t := time.NewTicker(syncInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			_ = s.Sync(context.Background(), ds.Key{})
		}
	}
}

// Close syncs and closes the datastore. Close everything that writes to it
// (the supernode, the host and its peerstore) first.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		err = errors.Join(s.Sync(context.Background(), ds.Key{}), s.Datastore.Close())
	})
	return err
}

type batch struct {
	s *Store
	b *ldb.Batch
}

func (b *batch) Put(_ context.Context, k ds.Key, v []byte) error {
	b.b.Put(k.Bytes(), v)
	return nil
}

func (b *batch) Delete(_ context.Context, k ds.Key) error {
	b.b.Delete(k.Bytes())
	return nil
}

func (b *batch) Commit(context.Context) error {
	if b.b.Len() == 0 {
		return nil
	}
	b.s.dirty.Store(true)
	return b.s.DB.Write(b.b, noSync)
}

// OpenPeerstore is the host's peerstore in the datastore: peers' keys,
// addresses (with their expiry) and protocols survive a restart. kad-dht
// serves a provider record's addresses from the peerstore, so without it a
// restarted supernode would hold records it cannot give addresses for.
func OpenPeerstore(d ds.Batching) (peerstore.Peerstore, error) {
	opts := pstoreds.DefaultOpts()
	opts.GCPurgeInterval = 10 * time.Minute
	opts.GCInitialDelay = time.Minute
	ps, err := pstoreds.NewPeerstore(context.Background(), d, opts)
	if err != nil {
		return nil, fmt.Errorf("opening peerstore: %w", err)
	}
	return ps, nil
}

// SettlePeerstore runs before the host starts: no connection is open, so
// addresses a crash left marked "connected" (they never expire) get the
// lifetime of a record instead, like those of a peer that disconnected.
func SettlePeerstore(ps peerstore.Peerstore, recordTTL time.Duration) {
	ttl := max(recordTTL, peerstore.RecentlyConnectedAddrTTL)
	for _, p := range ps.PeersWithAddrs() {
		ps.UpdateAddrs(p, peerstore.ConnectedAddrTTL, ttl)
	}
}

// knownSupernodesKey is the peerstore metadata (of this node's own peer ID)
// listing the supernodes it last knew, as /p2p/ multiaddrs.
const knownSupernodesKey = "supertracker/supernodes"

// maxKnownSupernodes bounds that list.
const maxKnownSupernodes = 64

// KnownSupernodes returns the supernodes a previous run remembered.
func KnownSupernodes(ps peerstore.Peerstore, self peer.ID) []peer.AddrInfo {
	v, err := ps.Get(self, knownSupernodesKey)
	if err != nil {
		return nil
	}
	list, _ := v.([]string)
	var out []peer.AddrInfo
	for _, s := range list {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		ai, err := peer.AddrInfoFromP2pAddr(a)
		if err != nil || ai.ID == self {
			continue
		}
		out = append(out, *ai)
	}
	return out
}

// Remember stores the supernodes sn knows now (those it verified, even
// if marked down: at a shutdown of all of them at once the others are gone
// already) for the next run; it keeps the old list if sn knows none.
func Remember(h host.Host, sn *supernode.Node) {
	var list []string
	for _, ai := range sn.KnownSupernodes(maxKnownSupernodes) {
		addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: ai.ID, Addrs: ai.Addrs[:min(len(ai.Addrs), 4)]})
		if err != nil {
			continue
		}
		for _, a := range addrs {
			list = append(list, a.String())
		}
	}
	if len(list) > 0 {
		_ = h.Peerstore().Put(h.ID(), knownSupernodesKey, list)
	}
}

// MergePeers appends to a the peers of b it does not have.
func MergePeers(a, b []peer.AddrInfo) []peer.AddrInfo {
	seen := map[peer.ID]bool{}
	for _, p := range a {
		seen[p.ID] = true
	}
	for _, p := range b {
		if !seen[p.ID] {
			seen[p.ID] = true
			a = append(a, p)
		}
	}
	return a
}

// StartRemembering calls Remember every interval, so that a
// crash leaves a recent list too; the returned function stops it and waits.
func StartRemembering(h host.Host, current func() *supernode.Node, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if sn := current(); sn != nil {
					Remember(h, sn)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Durable is the datastore and the peerstore in it, for the host
// (libp2p.Peerstore) and the supernode (Config.Datastore). Close order at
// exit: supernode, host (it closes the peerstore), then Store.
type Durable struct {
	Store     *Store
	Peerstore peerstore.Peerstore
	Known     []peer.AddrInfo // supernodes a previous run knew
}

// Open opens DATA/datastore and the peerstore in it, settles the peerstore
// (see SettlePeerstore) and reads the supernodes a previous run knew.
func Open(dataDir string, self peer.ID, recordTTL time.Duration, log *slog.Logger) (*Durable, error) {
	st, err := OpenStore(dataDir)
	if err != nil {
		return nil, err
	}
	ps, err := OpenPeerstore(st)
	if err != nil {
		st.Close()
		return nil, err
	}
	SettlePeerstore(ps, recordTTL)
	d := &Durable{Store: st, Peerstore: ps, Known: KnownSupernodes(ps, self)}
	log.Info("datastore open", "path", filepath.Join(dataDir, DatastoreDir), "known_supernodes", len(d.Known),
		"peers", len(ps.PeersWithAddrs()))
	return d, nil
}
