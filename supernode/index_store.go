package supernode

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dsq "github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
)

// With Config.Datastore set, the record index is kept in the datastore next
// to kad-dht's provider records, so that a restarted supernode still
// honours withdrawals (tombstones), per-leaf caps and sequence numbers for
// the records it serves, and counts them. One key per (leaf, CID):
//
//	/supertracker/index/<leaf peer ID>/<CID> → seq (8 bytes) | expires (8 bytes, Unix ns) | withdrawn (1 byte)
const indexPrefix = "/supertracker/index/"

func indexKey(leaf peer.ID, c cid.Cid) ds.Key {
	return ds.RawKey(indexPrefix + leaf.String() + "/" + c.String())
}

func encodeEntry(e entry) []byte {
	b := make([]byte, 17)
	binary.BigEndian.PutUint64(b, e.seq)
	binary.BigEndian.PutUint64(b[8:], uint64(e.expires.UnixNano()))
	if e.withdrawn {
		b[16] = 1
	}
	return b
}

func decodeEntry(b []byte) (entry, bool) {
	if len(b) != 17 {
		return entry{}, false
	}
	return entry{
		seq:       binary.BigEndian.Uint64(b),
		expires:   time.Unix(0, int64(binary.BigEndian.Uint64(b[8:]))),
		withdrawn: b[16] == 1,
	}, true
}

// persist writes the entries of leaf for cids (as they are in m now), or
// deletes them (del). Errors are returned for logging: the in-memory index
// stays authoritative while the process runs.
func (x *recordIndex) persist(leaf peer.ID, m map[cid.Cid]entry, cids []cid.Cid, del bool) error {
	if x.db == nil || len(cids) == 0 {
		return nil
	}
	ctx := context.Background()
	b, err := x.db.Batch(ctx)
	if err != nil {
		return err
	}
	for _, c := range cids {
		if del {
			err = b.Delete(ctx, indexKey(leaf, c))
		} else {
			err = b.Put(ctx, indexKey(leaf, c), encodeEntry(m[c]))
		}
		if err != nil {
			return err
		}
	}
	return b.Commit(ctx)
}

// load fills the index from the datastore, dropping expired and unreadable
// entries (from the datastore too).
func (x *recordIndex) load(ctx context.Context, now time.Time) (int, error) {
	if x.db == nil {
		return 0, nil
	}
	res, err := x.db.Query(ctx, dsq.Query{Prefix: indexPrefix})
	if err != nil {
		return 0, err
	}
	defer res.Close()
	var stale []ds.Key
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for r := range res.Next() {
		if r.Error != nil {
			return n, r.Error
		}
		leafStr, cidStr, ok := strings.Cut(strings.TrimPrefix(r.Key, indexPrefix), "/")
		leaf, err1 := peer.Decode(leafStr)
		c, err2 := cid.Decode(cidStr)
		e, ok2 := decodeEntry(r.Value)
		if !ok || err1 != nil || err2 != nil || !ok2 || !e.expires.After(now) {
			stale = append(stale, ds.RawKey(r.Key))
			continue
		}
		m := x.byLeaf[leaf]
		if m == nil {
			m = make(map[cid.Cid]entry)
			x.byLeaf[leaf] = m
		}
		m[c] = e
		if !e.withdrawn {
			x.records++
		}
		n++
	}
	var errs []error
	for _, k := range stale {
		if err := x.db.Delete(ctx, k); err != nil && !errors.Is(err, ds.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}
