package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"
)

// heapInUse is the live Go heap after two full collections.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// sizeName is 10k, 100k, 1M.
func sizeName(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// storePhase is P5: bytes per record on one supernode (heap, disk) against
// kad-dht's provider store on the same datastore kind, and against
// opentracker's RSS per torrent-peer.
func (b *run) storePhase(ctx context.Context) error {
	cfg := b.cfg
	for _, m := range cfg.StoreSizes {
		leaves := max(1, min(1000, m/100))
		set, err := newRecordSet(m, cfg.StoreHolders, leaves)
		if err != nil {
			return err
		}
		variant := fmt.Sprintf("%s records", sizeName(m))
		withTracker := slices.Contains(cfg.TrackerStoreSizes, m)
		for r := range cfg.Rounds {
			b.logf("P5 %s round %d/%d: overlay supernode, kad-dht provider store%s", variant, r+1, cfg.Rounds,
				map[bool]string{true: ", opentracker", false: ""}[withTracker])
			dir := filepath.Join(b.work, fmt.Sprintf("P5-%d-%d", m, r))
			oh, od, oerr := measureOverlayStore(ctx, filepath.Join(dir, "overlay"), set)
			kh, kd, kerr := measureKadStore(ctx, filepath.Join(dir, "kad"), set)
			_ = os.RemoveAll(dir)
			if oerr != nil || kerr != nil {
				b.fail("P5 "+variant, fmt.Errorf("overlay: %v; kad-dht: %v", oerr, kerr))
				continue
			}
			s := sample{id: "P5", variant: variant, baseline: baseKadStore, unit: "B/record", n: 1, samples: m}
			s.metric = "heap per record"
			b.rows.add(s, oh, kh, 0, 0)
			s.metric = "disk per record (leveldb, compacted)"
			b.rows.add(s, od, kd, 0, 0)
			if withTracker {
				tr, err := b.measureTrackerRSS(ctx, filepath.Join(dir, "opentracker"), m, r)
				_ = os.RemoveAll(dir)
				if err != nil {
					b.fail("P5 opentracker "+variant, err)
					continue
				}
				s.baseline, s.metric = baseTrackerRSS, "memory per record (ours: heap; opentracker: RSS growth)"
				b.rows.add(s, oh, tr, 0, 0)
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	return nil
}

// measureOverlayStore fills a fresh supernode with set and returns heap and
// disk bytes per record.
func measureOverlayStore(ctx context.Context, dir string, set *recordSet) (heap, disk float64, err error) {
	s, err := newOverlayStore(dir)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	if err := s.prepare(set); err != nil {
		return 0, 0, err
	}
	before := heapInUse()
	if err := s.insert(ctx); err != nil {
		return 0, 0, err
	}
	after := heapInUse()
	if got := s.records(); got != set.total {
		return 0, 0, fmt.Errorf("supernode stores %d records, want %d", got, set.total)
	}
	n, err := s.diskBytes()
	if err != nil {
		return 0, 0, err
	}
	return (float64(after) - float64(before)) / float64(set.total), float64(n) / float64(set.total), nil
}

// measureKadStore does the same for kad-dht's provider store.
func measureKadStore(ctx context.Context, dir string, set *recordSet) (heap, disk float64, err error) {
	s, err := newKadStore(dir)
	if err != nil {
		return 0, 0, err
	}
	defer s.close()
	before := heapInUse()
	if err := s.insert(ctx, set); err != nil {
		return 0, 0, err
	}
	after := heapInUse()
	n, err := s.diskBytes()
	if err != nil {
		return 0, 0, err
	}
	return (float64(after) - float64(before)) / float64(set.total), float64(n) / float64(set.total), nil
}

// measureTrackerRSS starts opentracker with m/holders whitelisted torrents,
// registers m torrent-peers (holders per torrent, each from its own
// address) and returns the RSS growth per torrent-peer.
func (b *run) measureTrackerRSS(ctx context.Context, dir string, m, round int) (float64, error) {
	holders := b.cfg.StoreHolders
	torrents := m / holders
	wl := make([][20]byte, torrents)
	for i := range wl {
		wl[i] = torrentHash(fmt.Sprintf("store/%d/%d", m, round), i)
	}
	t, err := startTracker(ctx, b.opts.Opentracker, dir, wl)
	if err != nil {
		return 0, err
	}
	defer t.close()
	before, err := rssBytes(t.pid())
	if err != nil {
		return 0, err
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		next   int
	)
	for range b.cfg.Workers {
		wg.Go(func() {
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= torrents*holders || ctx.Err() != nil {
					return
				}
				tor, h := i/holders, i%holders
				// A record is what is measured, not the first try: a
				// busy machine's loopback HTTP can refuse a connection.
				var err error
				for try := 0; try < 3 && ctx.Err() == nil; try++ {
					actx, cancel := context.WithTimeout(ctx, 10*time.Second)
					_, err = t.announce(actx, wl[tor], fmt.Sprintf("127.0.3.%d", 1+h), 6881, 0, 0, "")
					cancel()
					if err == nil {
						break
					}
				}
				if err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		return 0, fmt.Errorf("%d of %d opentracker announces failed", failed, torrents*holders)
	}
	after, err := rssBytes(t.pid())
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(torrents*holders), nil
}
