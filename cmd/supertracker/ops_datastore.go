package main

// Durability: a supernode (and a node, which may become one) keeps its DHT
// provider records, its record index and its peerstore in a LevelDB
// datastore in DATA/datastore, so that a restart on the same data dir
// serves every record that has not expired and knows its peers.

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
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
)

// datastoreDir is the datastore's directory inside the data dir.
const datastoreDir = "datastore"

// syncInterval bounds what a power loss can take: written data reaches the
// OS at once (a crashed process loses nothing) and the disk within this.
const syncInterval = 5 * time.Second

// nodeStore is go-ds-leveldb's datastore with unsynced writes: go-ds-leveldb
// fsyncs every Put (~0.4 ms here), and the peerstore writes a leaf's
// addresses for every CID it announces. Writes reach the OS at once and the
// disk every syncInterval, on Sync and on Close.
type nodeStore struct {
	*leveldb.Datastore
	dirty atomic.Bool
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

var (
	_       ds.Batching = (*nodeStore)(nil)
	noSync              = &opt.WriteOptions{Sync: false}
	syncKey             = []byte("/supertracker/meta/synced")
)

// openStore opens (creating) DATA/datastore. LevelDB locks it: a second
// process on the same data dir fails here.
func openStore(dataDir string) (*nodeStore, error) {
	path := filepath.Join(dataDir, datastoreDir)
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	d, err := leveldb.NewDatastore(path, nil)
	if err != nil {
		if strings.Contains(err.Error(), "resource temporarily unavailable") {
			return nil, fmt.Errorf("datastore %s is in use: is another supertracker running on --data %s?", path, dataDir)
		}
		return nil, fmt.Errorf("opening datastore %s: %w", path, err)
	}
	s := &nodeStore{Datastore: d, stop: make(chan struct{}), done: make(chan struct{})}
	go s.syncLoop()
	return s, nil
}

func (s *nodeStore) Put(_ context.Context, k ds.Key, v []byte) error {
	s.dirty.Store(true)
	return s.DB.Put(k.Bytes(), v, noSync)
}

func (s *nodeStore) Delete(_ context.Context, k ds.Key) error {
	s.dirty.Store(true)
	return s.DB.Delete(k.Bytes(), noSync)
}

func (s *nodeStore) Batch(context.Context) (ds.Batch, error) {
	return &nodeBatch{s: s, b: new(ldb.Batch)}, nil
}

// Sync makes every write so far durable (one fsync of LevelDB's journal).
func (s *nodeStore) Sync(context.Context, ds.Key) error {
	if !s.dirty.Swap(false) {
		return nil
	}
	return s.DB.Put(syncKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)), &opt.WriteOptions{Sync: true})
}

func (s *nodeStore) syncLoop() {
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
func (s *nodeStore) Close() error {
	var err error
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		err = errors.Join(s.Sync(context.Background(), ds.Key{}), s.Datastore.Close())
	})
	return err
}

type nodeBatch struct {
	s *nodeStore
	b *ldb.Batch
}

func (b *nodeBatch) Put(_ context.Context, k ds.Key, v []byte) error {
	b.b.Put(k.Bytes(), v)
	return nil
}

func (b *nodeBatch) Delete(_ context.Context, k ds.Key) error {
	b.b.Delete(k.Bytes())
	return nil
}

func (b *nodeBatch) Commit(context.Context) error {
	if b.b.Len() == 0 {
		return nil
	}
	b.s.dirty.Store(true)
	return b.s.DB.Write(b.b, noSync)
}

// openPeerstore is the host's peerstore in the datastore: peers' keys,
// addresses (with their expiry) and protocols survive a restart. kad-dht
// serves a provider record's addresses from the peerstore, so without it a
// restarted supernode would hold records it cannot give addresses for.
func openPeerstore(d ds.Batching) (peerstore.Peerstore, error) {
	opts := pstoreds.DefaultOpts()
	opts.GCPurgeInterval = 10 * time.Minute
	opts.GCInitialDelay = time.Minute
	ps, err := pstoreds.NewPeerstore(context.Background(), d, opts)
	if err != nil {
		return nil, fmt.Errorf("opening peerstore: %w", err)
	}
	return ps, nil
}

// settlePeerstore runs before the host starts: no connection is open, so
// addresses a crash left marked "connected" (they never expire) get the
// lifetime of a record instead, like those of a peer that disconnected.
func settlePeerstore(ps peerstore.Peerstore, recordTTL time.Duration) {
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

// knownSupernodes returns the supernodes a previous run remembered.
func knownSupernodes(ps peerstore.Peerstore, self peer.ID) []peer.AddrInfo {
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

// rememberSupernodes stores the supernodes sn knows now (routing table and
// rendezvous providers) for the next run; it keeps the old list if sn knows
// none.
func rememberSupernodes(h host.Host, sn *supernode.Node) {
	var list []string
	for _, ai := range sn.Supernodes(maxKnownSupernodes + 1) {
		if ai.ID == h.ID() {
			continue
		}
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

// mergePeers appends to a the peers of b it does not have.
func mergePeers(a, b []peer.AddrInfo) []peer.AddrInfo {
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

// startRemembering calls rememberSupernodes every interval, so that a
// crash leaves a recent list too; the returned function stops it and waits.
func startRemembering(h host.Host, current func() *supernode.Node, interval time.Duration) (stop func()) {
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
					rememberSupernodes(h, sn)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// durableHost opens the datastore and the peerstore in it; the host options
// use that peerstore. Close order at exit: supernode, host (it closes the
// peerstore), then the returned store.
type durable struct {
	store *nodeStore
	ps    peerstore.Peerstore
	known []peer.AddrInfo // supernodes a previous run knew
}

func openDurable(dataDir string, self peer.ID, recordTTL time.Duration, log *slog.Logger) (*durable, error) {
	st, err := openStore(dataDir)
	if err != nil {
		return nil, err
	}
	ps, err := openPeerstore(st)
	if err != nil {
		st.Close()
		return nil, err
	}
	settlePeerstore(ps, recordTTL)
	d := &durable{store: st, ps: ps, known: knownSupernodes(ps, self)}
	log.Info("datastore open", "path", filepath.Join(dataDir, datastoreDir), "known_supernodes", len(d.known),
		"peers", len(ps.PeersWithAddrs()))
	return d, nil
}

// dhtProtocol is the supernodes' kad-dht protocol ID.
const dhtProtocol = protocol.DHTPrefix + "/kad/1.0.0"
