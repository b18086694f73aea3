package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// trackerLoadTorrents is the whitelist size registrations spread over.
const trackerLoadTorrents = 10_000

// growthPhase measures, at S supernodes: lookup p50 (HTTP API, default
// limit) and registrations per second of one supernode (W leaves attached
// to it, 1-CID announces; at S = P3S also 64-CID batches: the P3 rows),
// both against opentracker, whose cost does not depend on S, so a row's
// ratio across S shows how ours grows. (A flat kad-dht of S ≤ 20 servers
// is no lookup baseline: with k = 20 every server stores every record and
// answers from its own store.)
func (b *run) growthPhase(ctx context.Context, s int) (err error) {
	cfg := b.cfg
	dir := filepath.Join(b.work, "S"+strconv.Itoa(s))
	var objects []cid.Cid
	for k := range cfg.Objects {
		objects = append(objects, benchCID(fmt.Sprintf("growth/S%d", s), k))
	}
	b.logf("S=%d: starting the overlay (%d leaves + %d load leaves on supernode 0)", s, cfg.GrowthLeaves, cfg.Workers)
	o, err := startOverlay(ctx, filepath.Join(dir, "overlay"), s)
	if err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	defer func() { b.noteAbandoned(fmt.Sprintf("S=%d overlay", s), o.close()) }()
	leaves, err := o.addLeaves(ctx, cfg.GrowthLeaves, 2, o.spread)
	if err != nil {
		return fmt.Errorf("overlay leaves: %w", err)
	}
	nl := len(leaves) / 2
	holders, lookers := leaves[:len(leaves)-nl], leaves[len(leaves)-nl:]
	for _, l := range lookers {
		if err := o.serveAPI(l); err != nil {
			return err
		}
	}
	for k, c := range objects {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, _, err := o.announceGo(actx, holders[k%len(holders)], []cid.Cid{c})
		cancel()
		if err != nil {
			return fmt.Errorf("overlay: announcing object %d: %w", k, err)
		}
	}
	load, err := newLeafLoad(ctx, o, 0, cfg.Workers)
	if err != nil {
		return fmt.Errorf("load generator: %w", err)
	}

	var wl [][20]byte
	for _, c := range objects {
		wl = append(wl, objectHash(c))
	}
	for i := range trackerLoadTorrents {
		wl = append(wl, torrentHash("load", i))
	}
	t, err := startTracker(ctx, b.opts.Opentracker, filepath.Join(dir, "opentracker"), wl)
	if err != nil {
		return err
	}
	defer t.close()
	for k, c := range objects {
		if _, err := t.announce(ctx, objectHash(c), holderIP(k), 6881, 0, 0, ""); err != nil {
			return fmt.Errorf("opentracker: announcing object %d: %w", k, err)
		}
	}
	oursLookup := func(ctx context.Context, l int, c cid.Cid) bool {
		n, err := o.lookupHTTP(ctx, l, c, 0)
		return err == nil && n > 0
	}
	trackerLookup := func(ctx context.Context, _ int, c cid.Cid) bool {
		peers, err := t.announce(ctx, objectHash(c), "127.0.0.1", 6882, 1, 50, "")
		return err == nil && peers > 0
	}
	// Warm-up, not measured: first streams, connections, walks.
	timeLookups(ctx, warmups, 1, lookers, objects, oursLookup)
	timeLookups(ctx, warmups, 1, []int{0}, objects, trackerLookup)
	if _, err := load.Run(ctx, 1, min(secs(cfg.LoadS), time.Second)); err != nil {
		return fmt.Errorf("load warm-up: %w", err)
	}
	b.trackerLoad(ctx, t, cfg.Workers, min(secs(cfg.LoadS), time.Second), -1)
	b.logf("S=%d: all up (%d open file descriptors)", s, openFDs())

	dur := secs(cfg.LoadS)
	for r := range cfg.Rounds {
		b.logf("S=%d round %d/%d: lookups", s, r+1, cfg.Rounds)
		seed := uint64(100_000 + s*1000 + r)
		ours := timeLookups(ctx, cfg.GrowthLookups, seed, lookers, objects, oursLookup)
		ot := timeLookups(ctx, cfg.GrowthLookups, seed, []int{0}, objects, trackerLookup)
		b.rows.add(sample{id: "growth", variant: fmt.Sprintf("S=%d", s), metric: "lookup p50 (HTTP API, default limit)",
			baseline: baseTracker + " (numwant=50)", unit: "ms", n: s, samples: cfg.GrowthLookups},
			percentile(ours.ms, 50), percentile(ot.ms, 50), ours.failures, ot.failures)

		b.logf("S=%d round %d/%d: registrations (1-CID announces, then opentracker%s), %s each", s, r+1, cfg.Rounds,
			map[bool]string{true: ", then 64-CID batches", false: ""}[s == cfg.P3S], dur)
		stored0 := o.storedRecords()
		one, oneErr := load.Run(ctx, 1, dur)
		b.logLoad(s, "1-CID", one, o.storedRecords()-stored0)
		reg := b.trackerLoad(ctx, t, cfg.Workers, dur, r)
		if oneErr != nil {
			b.fail(fmt.Sprintf("registrations S=%d", s), oneErr)
		}
		b.rows.add(sample{id: "growth", variant: fmt.Sprintf("S=%d", s), metric: "registrations/s, 1-CID announces" + HigherIsBetter,
			baseline: fmt.Sprintf("%s, %d workers", baseTracker, cfg.Workers), unit: "records/s", n: s, samples: one.Announces},
			one.RecordsPerSecond(), reg.RecordsPerSecond(), one.Failures, reg.Failures)
		if s != cfg.P3S {
			continue
		}
		stored0 = o.storedRecords()
		batch, batchErr := load.Run(ctx, cfg.Batch, dur)
		b.logLoad(s, fmt.Sprintf("%d-CID", cfg.Batch), batch, o.storedRecords()-stored0)
		if batchErr != nil {
			b.fail(fmt.Sprintf("P3 batches S=%d", s), batchErr)
		}
		for _, v := range []struct {
			name string
			res  LoadResult
		}{{"1-CID announces", one}, {fmt.Sprintf("%d-CID batches", cfg.Batch), batch}} {
			b.rows.add(sample{id: "P3", variant: fmt.Sprintf("%s, W=%d, S=%d, r=%d", v.name, cfg.Workers, s, replicationFactor),
				metric: "records registered/s by one supernode" + HigherIsBetter, baseline: fmt.Sprintf("%s HTTP announces/s, %d workers", baseTracker, cfg.Workers),
				unit: "records/s", n: s, samples: v.res.Announces}, v.res.RecordsPerSecond(), reg.RecordsPerSecond(), v.res.Failures, reg.Failures)
		}
	}
	return nil
}

// logLoad reports a registration run: rate, latency per announce, and how
// many copies the supernodes stored per accepted record (r is the target).
func (b *run) logLoad(s int, what string, res LoadResult, copies int) {
	per := 0.0
	if res.Announces > 0 {
		per = ms(res.Elapsed) * float64(b.cfg.Workers) / float64(res.Announces)
	}
	mean, amp := 0.0, 0.0
	if res.Announces > 0 {
		mean = float64(res.ReplicaSum) / float64(res.Announces)
	}
	if res.Records > 0 {
		amp = float64(copies) / float64(res.Records)
	}
	b.logf("S=%d %s: %d records in %.1fs = %.0f/s, ~%.1f ms per announce, %d failed; replicas reported %.1f, copies stored per record %.2f (r = %d)",
		s, what, res.Records, res.Elapsed.Seconds(), res.RecordsPerSecond(), per, res.Failures, mean, amp, replicationFactor)
}

// trackerLoad runs workers closed-loop clients against t for d, each from
// its own 127.0.1.x, announcing fresh (torrent, address, port) peers as
// seeders with numwant=0 (a pure registration, like ours).
func (b *run) trackerLoad(ctx context.Context, t *tracker, workers int, d time.Duration, round int) LoadResult {
	start := time.Now()
	stop := start.Add(d)
	var (
		mu   sync.Mutex
		res  LoadResult
		last time.Time
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			ip := fmt.Sprintf("127.0.1.%d", 1+w)
			var ok, failed int
			for k := 0; time.Now().Before(stop) && ctx.Err() == nil; k++ {
				// A new peer every time: the port walks 1..65535 per
				// torrent, and each round starts on a new port block.
				seq := (round+1)*1_000_000 + k // round -1: the warm-up
				port := 1 + (seq/trackerLoadTorrents)%65535
				actx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := t.announce(actx, torrentHash("load", seq%trackerLoadTorrents), ip, port, 0, 0, "")
				cancel()
				if err != nil {
					failed++
					continue
				}
				ok++
			}
			now := time.Now()
			mu.Lock()
			res.Records += ok
			res.Announces += ok
			res.Failures += failed
			if now.After(last) {
				last = now
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = last.Sub(start)
	return res
}
