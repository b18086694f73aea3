// Package recordstore is a supernode's one authoritative store of
// object→peer records, kept in a go-datastore (leveldb in daemons, its
// in-memory form in tests), with no second copy in memory.
//
// A record says "leaf L holds CID C": the leaf's signed announcement (kept
// once per announcement), C's position in it and the inclusion proof that
// puts C under the announcement's signed Merkle root, so that every answer
// can be checked by whoever asks. Records are keyed by the CID's multihash,
// as kad-dht keys provider records, so a lookup is one prefix scan:
//
//	/r/<multihash>/<leaf>          → record (seq, expiry, withdrawn, announcement hash, index, CID, proof)
//	/a/<announcement hash>         → the signed announcement envelope
//	/x/<expiry ms>/<announcement>  → the leaf and the multihashes stored under it here (the GC index)
//
// Keys are base64url. Expiry is enforced when records are read (to the
// millisecond of the signed expiry) and the GC index removes them from disk
// without scanning the store. Memory held per record: none; per leaf: a
// counter (the per-leaf cap).
package recordstore

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// ErrLeafCap: storing would take a leaf over its record cap here.
var ErrLeafCap = errors.New("recordstore: records-per-leaf cap reached")

const (
	recordPrefix = "/r/"
	annPrefix    = "/a/"
	expiryPrefix = "/x/"
)

var b64 = base64.RawURLEncoding

// Item is one CID of a verified announcement to store, with its proof and
// where the announcement came from.
type Item struct {
	CID    cid.Cid
	Index  int
	Proof  [][]byte
	Origin Origin
}

// Origin is where a record came from, in protocol.OriginOf's wire form:
// the network prefix of the supernode that sent it here (as this one sees
// the connection; empty when this supernode took it from the leaf itself)
// and the prefix of the leaf's connection (as the leaf's primary said).
// Holders spreads answers over them.
type Origin struct {
	Via, Leaf []byte
}

// Record is one stored record.
type Record struct {
	Key          []byte // the CID's multihash
	Leaf         peer.ID
	CID          cid.Cid
	Seq          uint64
	Expires      time.Time
	Withdrawn    bool
	Announcement [32]byte
	Index        int
	Proof        [][]byte
	Origin       Origin
}

// Live reports whether r answers lookups at now.
func (r *Record) Live(now time.Time) bool { return !r.Withdrawn && r.Expires.After(now) }

// Store is the record store. Reads run concurrently; writes are serialised.
type Store struct {
	d ds.Batching

	mu      sync.Mutex // serialises writes and guards the counts
	perLeaf map[peer.ID]int
	records int
}

// Open opens the store on d and counts what is in it, dropping what
// expired before now.
func Open(ctx context.Context, d ds.Batching, now time.Time) (*Store, error) {
	s := &Store{d: d, perLeaf: make(map[peer.ID]int)}
	if _, err := s.GC(ctx, now); err != nil {
		return nil, err
	}
	err := s.Each(ctx, func(r *Record) bool {
		if !r.Withdrawn {
			s.perLeaf[r.Leaf]++
			s.records++
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func recordKey(key []byte, leaf peer.ID) ds.Key {
	return ds.RawKey(recordPrefix + b64.EncodeToString(key) + "/" + b64.EncodeToString([]byte(leaf)))
}

func annKey(h [32]byte) ds.Key { return ds.RawKey(annPrefix + b64.EncodeToString(h[:])) }

func expiryKey(exp time.Time, h [32]byte) ds.Key {
	return ds.RawKey(fmt.Sprintf("%s%013d/%s", expiryPrefix, max(exp.UnixMilli(), 0), b64.EncodeToString(h[:])))
}

// Put stores items of the verified announcement a (this replica's share of
// it) and returns the indices stored. An item is skipped when a record with
// a higher sequence number for the same CID and leaf is already here; the
// same announcement stored again counts as stored (retries are
// idempotent). A withdrawal leaves a tombstone that outlives every
// announcement it supersedes. Put fails, storing nothing, if the leaf would
// exceed maxPerLeaf live records.
func (s *Store) Put(ctx context.Context, a *protocol.SignedAnnouncement, items []Item, maxPerLeaf int) ([]int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type write struct {
		item Item
		old  *Record
	}
	var ws []write
	var again []int // already stored from this very announcement
	added := 0
	for _, it := range items {
		old, err := s.get(ctx, it.CID.Hash(), a.Peer)
		if err != nil && !errors.Is(err, ds.ErrNotFound) {
			return nil, err
		}
		if old != nil && old.Announcement == a.Hash {
			again = append(again, it.Index)
			continue
		}
		if old != nil && old.Seq >= a.Seq {
			continue // superseded (or another announcement reusing the seq)
		}
		if !a.Withdraw && (old == nil || old.Withdrawn) {
			added++
		}
		ws = append(ws, write{item: it, old: old})
	}
	if added > 0 && s.perLeaf[a.Peer]+added > maxPerLeaf {
		return nil, fmt.Errorf("%w: leaf %s has %d of %d", ErrLeafCap, a.Peer, s.perLeaf[a.Peer], maxPerLeaf)
	}
	if len(ws) == 0 {
		return again, nil
	}
	b, err := s.d.Batch(ctx)
	if err != nil {
		return nil, err
	}
	if has, err := s.d.Has(ctx, annKey(a.Hash)); err != nil {
		return nil, err
	} else if !has {
		if err := b.Put(ctx, annKey(a.Hash), a.Envelope); err != nil {
			return nil, err
		}
	}
	xk := expiryKey(a.Expires, a.Hash)
	idx, err := s.d.Get(ctx, xk)
	if err != nil && !errors.Is(err, ds.ErrNotFound) {
		return nil, err
	}
	listed := map[string]bool{}
	if len(idx) == 0 {
		idx = appendBytes(nil, []byte(a.Peer))
	} else if parts, ok := splitBytes(idx); ok && len(parts) > 0 {
		for _, k := range parts[1:] {
			listed[string(k)] = true
		}
	}
	stored := append(make([]int, 0, len(ws)+len(again)), again...)
	delta := 0
	for _, w := range ws {
		r := Record{Key: w.item.CID.Hash(), Leaf: a.Peer, CID: w.item.CID, Seq: a.Seq, Expires: a.Expires,
			Withdrawn: a.Withdraw, Announcement: a.Hash, Index: w.item.Index, Proof: w.item.Proof, Origin: w.item.Origin}
		if a.Withdraw && w.old != nil && w.old.Expires.After(r.Expires) {
			// The tombstone must outlive what it supersedes, or a replay
			// of the older announcement would be taken again.
			r.Expires = w.old.Expires
		}
		if err := b.Put(ctx, recordKey(r.Key, a.Peer), encodeRecord(&r)); err != nil {
			return nil, err
		}
		// A record stored again after a Delete (handed off, then handed
		// back by repair) is listed once: collect counts each key once.
		if !listed[string(r.Key)] {
			listed[string(r.Key)] = true
			idx = appendBytes(idx, r.Key)
		}
		switch {
		case !a.Withdraw && (w.old == nil || w.old.Withdrawn):
			delta++
		case a.Withdraw && w.old != nil && !w.old.Withdrawn:
			delta--
		}
		stored = append(stored, w.item.Index)
	}
	if err := b.Put(ctx, xk, idx); err != nil {
		return nil, err
	}
	if err := b.Commit(ctx); err != nil {
		return nil, err
	}
	s.adjust(a.Peer, delta)
	return stored, nil
}

func (s *Store) adjust(leaf peer.ID, delta int) {
	s.records += delta
	if n := s.perLeaf[leaf] + delta; n > 0 {
		s.perLeaf[leaf] = n
	} else {
		delete(s.perLeaf, leaf)
	}
}

func (s *Store) get(ctx context.Context, key []byte, leaf peer.ID) (*Record, error) {
	v, err := s.d.Get(ctx, recordKey(key, leaf))
	if err != nil {
		return nil, err
	}
	return decodeRecord(key, leaf, v)
}

// Get returns the record of leaf for key, or ds.ErrNotFound.
func (s *Store) Get(ctx context.Context, key []byte, leaf peer.ID) (*Record, error) {
	return s.get(ctx, key, leaf)
}

// MaxHolderScan bounds the live records Holders reads for one key: the
// answer is spread over the origins of at most this many (records are
// read in leaf ID order, which anyone can grind, so an attacker that puts
// more live records than this on one key before an honest holder's ID
// can still push it out).
const MaxHolderScan = 1024

// Holders returns up to limit live records for key (a multihash) in wire
// form, each with its signed announcement and proof, spread over the
// records' origins (SpreadByOrigin) so one network prefix cannot fill an
// answer.
func (s *Store) Holders(ctx context.Context, key []byte, limit int, now time.Time) ([]*pb.Holder, error) {
	res, err := s.d.Query(ctx, dsq.Query{Prefix: recordPrefix + b64.EncodeToString(key)})
	if err != nil {
		return nil, err
	}
	var live []*Record
	for e := range res.Next() {
		if e.Error != nil {
			res.Close()
			return nil, e.Error
		}
		r, err := decodeKeyed(e.Key, e.Value)
		if err != nil || !r.Live(now) {
			continue
		}
		live = append(live, r)
		if len(live) == MaxHolderScan {
			break
		}
	}
	res.Close()
	var out []*pb.Holder
	for _, r := range SpreadByOrigin(live, func(r *Record) Origin { return r.Origin }, len(live)) {
		env, err := s.d.Get(ctx, annKey(r.Announcement))
		if err != nil {
			continue // announcement gone: the record is being collected
		}
		out = append(out, protocol.HolderToPB(env, r.CID, r.Index, r.Proof))
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// Announcement returns a stored announcement envelope by hash.
func (s *Store) Announcement(ctx context.Context, h [32]byte) ([]byte, error) {
	return s.d.Get(ctx, annKey(h))
}

// Each calls f for every record (expired and withdrawn ones included), in
// key order, until f returns false.
func (s *Store) Each(ctx context.Context, f func(*Record) bool) error {
	res, err := s.d.Query(ctx, dsq.Query{Prefix: recordPrefix})
	if err != nil {
		return err
	}
	defer res.Close()
	for e := range res.Next() {
		if e.Error != nil {
			return e.Error
		}
		r, err := decodeKeyed(e.Key, e.Value)
		if err != nil {
			continue
		}
		if !f(r) {
			return nil
		}
	}
	return nil
}

// Delete removes leaf's record for key if it is still the one from the
// announcement h (a newer one is kept).
func (s *Store) Delete(ctx context.Context, key []byte, leaf peer.ID, h [32]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.get(ctx, key, leaf)
	if errors.Is(err, ds.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.Announcement != h {
		return nil
	}
	if err := s.d.Delete(ctx, recordKey(key, leaf)); err != nil {
		return err
	}
	if !r.Withdrawn {
		s.adjust(leaf, -1)
	}
	return nil
}

// GC removes records, announcements and index entries that expired at or
// before now, and returns how many records it removed. It reads only the
// expired part of the GC index.
func (s *Store) GC(ctx context.Context, now time.Time) (int, error) {
	res, err := s.d.Query(ctx, dsq.Query{Prefix: expiryPrefix})
	if err != nil {
		return 0, err
	}
	type due struct {
		key string
		val []byte
	}
	var todo []due
	limit := fmt.Sprintf("%s%013d/", expiryPrefix, max(now.UnixMilli(), 0))
	for e := range res.Next() {
		if e.Error != nil {
			res.Close()
			return 0, e.Error
		}
		if e.Key >= limit {
			break // keys sort by expiry
		}
		todo = append(todo, due{e.Key, e.Value})
	}
	res.Close()
	removed := 0
	for _, d := range todo {
		n, err := s.collect(ctx, d.key, d.val, now)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// collect removes what one expired GC index entry lists.
func (s *Store) collect(ctx context.Context, xkey string, val []byte, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts, ok := splitBytes(val)
	if !ok || len(parts) == 0 {
		return 0, s.d.Delete(ctx, ds.RawKey(xkey))
	}
	leaf, err := peer.IDFromBytes(parts[0])
	b, berr := s.d.Batch(ctx)
	if berr != nil {
		return 0, berr
	}
	removed, delta := 0, 0
	if err == nil {
		seen := make(map[string]bool, len(parts)-1)
		for _, key := range parts[1:] {
			if seen[string(key)] {
				continue // listed twice by an older version: deleted once, counted once
			}
			seen[string(key)] = true
			r, err := s.get(ctx, key, leaf)
			if err != nil || r.Expires.After(now) {
				continue // gone, or superseded by a longer-lived record
			}
			if err := b.Delete(ctx, recordKey(key, leaf)); err != nil {
				return removed, err
			}
			removed++
			if !r.Withdrawn {
				delta--
			}
		}
	}
	h, herr := b64.DecodeString(xkey[strings.LastIndexByte(xkey, '/')+1:])
	if herr == nil && len(h) == 32 {
		if err := b.Delete(ctx, annKey([32]byte(h))); err != nil {
			return removed, err
		}
	}
	if err := b.Delete(ctx, ds.RawKey(xkey)); err != nil {
		return removed, err
	}
	if err := b.Commit(ctx); err != nil {
		return removed, err
	}
	if err == nil {
		s.adjust(leaf, delta)
	}
	return removed, nil
}

// Counts returns the live (unwithdrawn, not yet collected) records and the
// number of leaves they belong to.
func (s *Store) Counts() (records, leaves int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records, len(s.perLeaf)
}

// LeafRecords returns how many records of leaf are here.
func (s *Store) LeafRecords(leaf peer.ID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.perLeaf[leaf]
}

// Record encoding: version | flags | uvarint seq | varint expires (Unix
// ms) | 32-byte announcement hash | uvarint index | bytes CID | uvarint
// proof length | 32-byte hashes, and from version 2 on: bytes origin via |
// bytes origin leaf. Version 1 records (no origin) are still read.
const (
	recordVersion   = 2
	recordVersionV1 = 1
)

func encodeRecord(r *Record) []byte {
	b := make([]byte, 0, 64+len(r.CID.Bytes())+32*len(r.Proof))
	flags := byte(0)
	if r.Withdrawn {
		flags = 1
	}
	b = append(b, recordVersion, flags)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Expires.UnixMilli())
	b = append(b, r.Announcement[:]...)
	b = binary.AppendUvarint(b, uint64(r.Index))
	b = appendBytes(b, r.CID.Bytes())
	b = binary.AppendUvarint(b, uint64(len(r.Proof)))
	for _, h := range r.Proof {
		b = append(b, h...)
	}
	b = appendBytes(b, r.Origin.Via)
	return appendBytes(b, r.Origin.Leaf)
}

var errCorrupt = errors.New("recordstore: corrupt record")

func decodeRecord(key []byte, leaf peer.ID, b []byte) (*Record, error) {
	if len(b) < 2 || (b[0] != recordVersion && b[0] != recordVersionV1) {
		return nil, errCorrupt
	}
	version := b[0]
	r := &Record{Key: key, Leaf: leaf, Withdrawn: b[1]&1 == 1}
	b = b[2:]
	var n int
	if r.Seq, n = binary.Uvarint(b); n <= 0 {
		return nil, errCorrupt
	}
	b = b[n:]
	exp, n := binary.Varint(b)
	if n <= 0 {
		return nil, errCorrupt
	}
	r.Expires, b = time.UnixMilli(exp), b[n:]
	if len(b) < 32 {
		return nil, errCorrupt
	}
	copy(r.Announcement[:], b)
	b = b[32:]
	idx, n := binary.Uvarint(b)
	if n <= 0 || idx > 1<<16 {
		return nil, errCorrupt
	}
	r.Index, b = int(idx), b[n:]
	cb, b, ok := cutBytes(b)
	if !ok {
		return nil, errCorrupt
	}
	c, err := cid.Cast(cb)
	if err != nil {
		return nil, errCorrupt
	}
	r.CID = c
	np, n := binary.Uvarint(b)
	if n <= 0 || np > 64 || uint64(len(b)-n) < 32*np || (version == recordVersionV1 && uint64(len(b)-n) != 32*np) {
		return nil, errCorrupt
	}
	b = b[n:]
	for i := uint64(0); i < np; i++ {
		r.Proof = append(r.Proof, b[32*i:32*i+32])
	}
	if version == recordVersionV1 {
		return r, nil
	}
	b = b[32*np:]
	if r.Origin.Via, b, ok = cutBytes(b); !ok || protocol.CheckOrigin(r.Origin.Via) != nil {
		return nil, errCorrupt
	}
	if r.Origin.Leaf, b, ok = cutBytes(b); !ok || protocol.CheckOrigin(r.Origin.Leaf) != nil || len(b) != 0 {
		return nil, errCorrupt
	}
	return r, nil
}

// decodeKeyed decodes a record from its datastore key and value.
func decodeKeyed(k string, v []byte) (*Record, error) {
	rest := strings.TrimPrefix(k, recordPrefix)
	ks, ls, ok := strings.Cut(rest, "/")
	if !ok {
		return nil, errCorrupt
	}
	key, err1 := b64.DecodeString(ks)
	lb, err2 := b64.DecodeString(ls)
	if err1 != nil || err2 != nil {
		return nil, errCorrupt
	}
	leaf, err := peer.IDFromBytes(lb)
	if err != nil {
		return nil, errCorrupt
	}
	return decodeRecord(key, leaf, v)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func cutBytes(b []byte) (v, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	return b[k : k+int(n)], b[k+int(n):], true
}

func splitBytes(b []byte) ([][]byte, bool) {
	var out [][]byte
	for len(b) > 0 {
		v, rest, ok := cutBytes(b)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		b = rest
	}
	return out, true
}
