package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
)

// Baseline names as they appear in rows.
const (
	baseFlat        = "flat-kad-dht"
	baseTracker     = "opentracker"
	baseFlatProcess = "flat-kad-dht server process"
	baseKadStore    = "kad-dht provider store (leveldb)"
	baseTrackerRSS  = "opentracker (RSS)"
)

// lookupTimeout bounds one lookup on every side.
const lookupTimeout = 10 * time.Second

// warmups: lookups per side before the first round, not measured (first
// streams, connections, caches).
const warmups = 10

// lookupNet is the state P1, P2 and P4 share at one N: the overlay, the flat
// DHT, opentracker and the two measured processes, all up for every round.
type lookupNet struct {
	n       int
	objects []cid.Cid
	// overlay: holder leaves (object k on holders[k % len]), lookers with
	// an HTTP API.
	o        *overlayNet
	oHolders []int
	oLookers []int
	// flat: holder and looker node indexes.
	f        *flatNet
	fHolders []int
	fLookers []int
	t        *tracker
	leafProc *child
	flatProc *child
}

func (b *run) lookupPhase(ctx context.Context, n int) (err error) {
	cfg := b.cfg
	dir := filepath.Join(b.work, "N"+strconv.Itoa(n))
	s := max(n/5, 1)
	ln := &lookupNet{n: n}
	for k := range cfg.Objects {
		ln.objects = append(ln.objects, benchCID(fmt.Sprintf("lookup/N%d", n), k))
	}
	defer func() { b.noteAbandoned(fmt.Sprintf("N=%d", n), ln.close()) }()

	// The overlay: S supernodes, N-S-1 leaves in process, 1 leaf process.
	b.logf("N=%d: starting the overlay (S=%d supernodes, %d leaves + 1 leaf process)", n, s, n-s-1)
	if ln.o, err = startOverlay(ctx, filepath.Join(dir, "overlay"), s); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	leaves, err := ln.o.addLeaves(ctx, n-s-1, 2, ln.o.spread)
	if err != nil {
		return fmt.Errorf("overlay leaves: %w", err)
	}
	nl := min(4, len(leaves)/2)
	ln.oLookers, ln.oHolders = leaves[len(leaves)-nl:], leaves[:len(leaves)-nl]
	for _, l := range ln.oLookers {
		if err := ln.o.serveAPI(l); err != nil {
			return err
		}
	}
	for k, c := range ln.objects {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, _, err := ln.o.announceGo(actx, ln.oHolders[k%len(ln.oHolders)], []cid.Cid{c})
		cancel()
		if err != nil {
			return fmt.Errorf("overlay: announcing object %d: %w", k, err)
		}
	}
	b.logf("N=%d: overlay up; starting the leaf process", n)
	if ln.leafProc, err = b.startLeafProcess(ctx, dir, ln.o); err != nil {
		return fmt.Errorf("leaf process: %w", err)
	}

	// The flat DHT: N-1 servers in process, 1 server process.
	b.logf("N=%d: starting the flat kad-dht (%d servers + 1 server process)", n, n-1)
	if ln.f, err = startFlat(ctx, n-1); err != nil {
		return fmt.Errorf("flat kad-dht: %w", err)
	}
	nf := min(4, (n-1)/2)
	for i := range n - 1 {
		if i < n-1-nf {
			ln.fHolders = append(ln.fHolders, i)
		} else {
			ln.fLookers = append(ln.fLookers, i)
		}
	}
	for k, c := range ln.objects {
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := ln.f.provide(pctx, ln.fHolders[k%len(ln.fHolders)], c)
		cancel()
		if err != nil {
			return fmt.Errorf("flat kad-dht: providing object %d: %w", k, err)
		}
	}
	b.logf("N=%d: flat kad-dht up; starting its server process", n)
	if ln.flatProc, err = b.startFlatProcess(ctx, dir, ln.f); err != nil {
		return fmt.Errorf("flat kad-dht process: %w", err)
	}

	// opentracker: each object announced by a holder (its own 127.0.2.x).
	var wl [][20]byte
	for _, c := range ln.objects {
		wl = append(wl, objectHash(c))
	}
	if ln.t, err = startTracker(ctx, b.opts.Opentracker, filepath.Join(dir, "opentracker"), wl); err != nil {
		return err
	}
	for k, c := range ln.objects {
		if _, err := ln.t.announce(ctx, objectHash(c), holderIP(k), 6881, 0, 0, ""); err != nil {
			return fmt.Errorf("opentracker: announcing object %d: %w", k, err)
		}
	}

	b.p1Round(ctx, ln, -1) // warm-up, not recorded
	b.logf("N=%d: all up (%d open file descriptors)", n, openFDs())
	if err := sleepCtx(ctx, secs(cfg.IdleSettleS)); err != nil {
		return err
	}
	for r := range cfg.Rounds {
		b.logf("N=%d round %d/%d: P1 lookups", n, r+1, cfg.Rounds)
		b.p1Round(ctx, ln, r)
		b.logf("N=%d round %d/%d: P2 announce→found", n, r+1, cfg.Rounds)
		b.p2Round(ctx, ln, r)
		b.logf("N=%d round %d/%d: P4 idle processes", n, r+1, cfg.Rounds)
		b.p4Round(ctx, ln)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// holderIP is the source address opentracker holder k announces from.
func holderIP(k int) string { return fmt.Sprintf("127.0.2.%d", 1+k%250) }

// close stops everything; it returns how many hosts did not close in time.
func (ln *lookupNet) close() (abandoned int) {
	if ln.leafProc != nil {
		ln.leafProc.stop()
	}
	if ln.flatProc != nil {
		ln.flatProc.stop()
	}
	if ln.t != nil {
		ln.t.close()
	}
	if ln.f != nil {
		abandoned += ln.f.close()
	}
	if ln.o != nil {
		abandoned += ln.o.close()
	}
	return abandoned
}

// lookupOp is one lookup; true if it found a holder.
type lookupOp func(ctx context.Context, looker int, c cid.Cid) bool

// timeLookups runs count lookups, looker i%len(lookers) for a random object
// (the same sequence for every side in a round), and returns their
// latencies.
func timeLookups(ctx context.Context, count int, seed uint64, lookers []int, objects []cid.Cid, op lookupOp) latencies {
	rng := rand.New(rand.NewPCG(seed, 7))
	var l latencies
	for i := range count {
		c := objects[rng.IntN(len(objects))]
		lctx, cancel := context.WithTimeout(ctx, lookupTimeout)
		t0 := time.Now()
		ok := op(lctx, lookers[i%len(lookers)], c)
		l.add(time.Since(t0), ok)
		cancel()
		if ctx.Err() != nil {
			break
		}
	}
	return l
}

// p1Round measures one round of P1; round -1 is a warm-up of a few
// lookups per variant and side that records nothing.
func (b *run) p1Round(ctx context.Context, ln *lookupNet, r int) {
	cfg := b.cfg
	count := cfg.Lookups
	if r < 0 {
		count = warmups
	}
	seed := uint64(ln.n*1000 + r + 1)
	httpLookup := func(limit int) lookupOp {
		return func(ctx context.Context, l int, c cid.Cid) bool {
			n, err := ln.o.lookupHTTP(ctx, l, c, limit)
			return err == nil && n > 0
		}
	}
	ours := timeLookups(ctx, count, seed, ln.oLookers, ln.objects, httpLookup(0))
	oursOne := timeLookups(ctx, count, seed, ln.oLookers, ln.objects, httpLookup(1))
	oursGo := timeLookups(ctx, count, seed, ln.oLookers, ln.objects, func(ctx context.Context, l int, c cid.Cid) bool {
		n, err := ln.o.lookupGo(ctx, l, c, 0)
		return err == nil && n > 0
	})
	flat := timeLookups(ctx, count, seed, ln.fLookers, ln.objects, ln.f.findFirst)
	ot := timeLookups(ctx, count, seed, []int{0}, ln.objects, func(ctx context.Context, _ int, c cid.Cid) bool {
		peers, err := ln.t.announce(ctx, objectHash(c), "127.0.0.1", 6882, 1, 50, "")
		return err == nil && peers > 0
	})
	if r < 0 {
		return
	}
	for _, v := range []struct {
		variant string
		l       latencies
		bases   []string
	}{
		{"http-default-limit", ours, []string{baseFlat, baseTracker}},
		{"http-limit=1", oursOne, []string{baseFlat}},
		{"go-agent-lookup", oursGo, []string{baseFlat}},
	} {
		for _, base := range v.bases {
			bl := flat
			if base == baseTracker {
				bl = ot
			}
			for _, p := range []float64{50, 99} {
				b.rows.add(sample{id: "P1", variant: fmt.Sprintf("%s N=%d", v.variant, ln.n), metric: fmt.Sprintf("lookup p%.0f", p),
					baseline: base, unit: "ms", n: ln.n, samples: cfg.Lookups},
					percentile(v.l.ms, p), percentile(bl.ms, p), v.l.failures, bl.failures)
			}
		}
	}
}

// findable polls find until it succeeds or lookupTimeout passes, and
// returns the time from start to the successful find's return.
func findable(ctx context.Context, find func(ctx context.Context) bool) (time.Duration, bool) {
	start := time.Now()
	deadline := start.Add(lookupTimeout)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		fctx, cancel := context.WithDeadline(ctx, deadline)
		ok := find(fctx)
		cancel()
		if ok {
			return time.Since(start), true
		}
	}
	return time.Since(start), false
}

func (b *run) p2Round(ctx context.Context, ln *lookupNet, r int) {
	cfg := b.cfg
	var oursFind, oursAnn, flatFind, flatProv latencies
	for j := range cfg.Pairs {
		c := benchCID(fmt.Sprintf("p2/N%d/r%d/ours", ln.n, r), j)
		a := ln.oLookers[j%len(ln.oLookers)]
		bl := ln.oLookers[(j+1)%len(ln.oLookers)]
		for _, cand := range ln.oLookers { // B on another supernode than A
			if cand != a && ln.o.primary(cand) != ln.o.primary(a) {
				bl = cand
				break
			}
		}
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		t0 := time.Now()
		err := ln.o.announceHTTP(actx, a, []cid.Cid{c})
		cancel()
		oursAnn.add(time.Since(t0), err == nil)
		if err != nil {
			oursFind.add(0, false)
			continue
		}
		oursFind.add(findable(ctx, func(ctx context.Context) bool {
			n, err := ln.o.lookupHTTP(ctx, bl, c, 0)
			return err == nil && n > 0
		}))
	}
	for j := range cfg.Pairs {
		c := benchCID(fmt.Sprintf("p2/N%d/r%d/flat", ln.n, r), j)
		a := ln.fLookers[j%len(ln.fLookers)]
		bl := ln.fLookers[(j+1)%len(ln.fLookers)]
		pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		t0 := time.Now()
		err := ln.f.provide(pctx, a, c)
		cancel()
		flatProv.add(time.Since(t0), err == nil)
		if err != nil {
			flatFind.add(0, false)
			continue
		}
		flatFind.add(findable(ctx, func(ctx context.Context) bool { return ln.f.findFirst(ctx, bl, c) }))
	}
	variant := fmt.Sprintf("announce→found N=%d", ln.n)
	b.rows.add(sample{id: "P2", variant: variant, metric: "announce return → found by another leaf, p50", baseline: baseFlat + " (Provide → FindProvidersAsync)",
		unit: "ms", n: ln.n, samples: cfg.Pairs}, percentile(oursFind.ms, 50), percentile(flatFind.ms, 50), oursFind.failures, flatFind.failures)
	b.rows.add(sample{id: "P2", variant: variant, metric: "announce call p50", baseline: baseFlat + " (Provide call)",
		unit: "ms", n: ln.n, samples: cfg.Pairs}, percentile(oursAnn.ms, 50), percentile(flatProv.ms, 50), oursAnn.failures, flatProv.failures)
}

// p4Round measures both processes over the same window (their CPU times
// are their own, so measuring them side by side is fairer than one after
// the other: both see the same machine).
func (b *run) p4Round(ctx context.Context, ln *lookupNet) {
	window := secs(b.cfg.IdleWindowS)
	var (
		ou, fu     usage
		oerr, ferr error
		wg         sync.WaitGroup
	)
	wg.Go(func() { ou, oerr = idleUsage(ctx, ln.leafProc.pid(), window) })
	wg.Go(func() { fu, ferr = idleUsage(ctx, ln.flatProc.pid(), window) })
	wg.Wait()
	if oerr != nil || ferr != nil {
		b.fail(fmt.Sprintf("P4 N=%d", ln.n), fmt.Errorf("leaf process: %v; flat process: %v", oerr, ferr))
		return
	}
	s := sample{id: "P4", variant: fmt.Sprintf("idle leaf process N=%d", ln.n), baseline: baseFlatProcess, unit: "ms CPU/s", n: ln.n, samples: 1}
	// utime+stime counts 10 ms ticks: a round where the baseline used
	// none has no ratio (and is left out of this row).
	s.metric = "idle CPU (/proc/PID/stat utime+stime)"
	b.rows.add(s, ou.statMsPerS, fu.statMsPerS, 0, 0)
	s.metric = "idle CPU (/proc/PID/task/*/schedstat, ns resolution)"
	b.rows.add(s, ou.schedMsPerS, fu.schedMsPerS, 0, 0)
	s.metric, s.unit = "RSS", "MB"
	b.rows.add(s, float64(ou.rss)/(1<<20), float64(fu.rss)/(1<<20), 0, 0)
}

// startLeafProcess starts the leaf binary (bin/supertracker-leaf) attached to four
// supernodes and waits until it has a primary and backups.
func (b *run) startLeafProcess(ctx context.Context, dir string, o *overlayNet) (*child, error) {
	pdir := filepath.Join(dir, "leafproc")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	api := "127.0.0.1:" + strconv.Itoa(port)
	known := o.spread(o.supernodes() / 2)
	args := leafProcessArgs(filepath.Join(pdir, "data"), api, o.supernodeAddrs(known))
	c, err := startChild("leaf process", exec.Command(b.opts.Binary, args...), filepath.Join(pdir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	err = waitUntil(ctx, 30*time.Second, "the leaf process to attach", func() bool {
		return !c.exited() && leafProcessReady(ctx, api, len(known))
	})
	if err == nil && c.exited() {
		err = fmt.Errorf("exited (see %s)", filepath.Join(pdir, "stderr.log"))
	}
	if err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// startFlatProcess starts one flat kad-dht server process bootstrapped
// through four in-process servers and waits until its routing table holds
// min(N-1, 10) peers (it fills further with its own refreshes).
func (b *run) startFlatProcess(ctx context.Context, dir string, f *flatNet) (*child, error) {
	pdir := filepath.Join(dir, "flatproc")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort("127.0.0.1")
	if err != nil {
		return nil, err
	}
	api := "127.0.0.1:" + strconv.Itoa(port)
	var boot []string
	for i := range min(4, len(f.hosts)) {
		boot = append(boot, f.addrs(i)...)
	}
	args, err := flatProcessArgs(pdir, api, boot)
	if err != nil {
		return nil, err
	}
	c, err := startChild("flat kad-dht process", b.opts.Helper(args...), filepath.Join(pdir, "stderr.log"))
	if err != nil {
		return nil, err
	}
	want := min(len(f.hosts), 10)
	err = waitUntil(ctx, 60*time.Second, "the flat kad-dht process's routing table", func() bool {
		return !c.exited() && flatProcessReady(ctx, api, want)
	})
	if err == nil && c.exited() {
		err = fmt.Errorf("exited (see %s)", filepath.Join(pdir, "stderr.log"))
	}
	if err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// sleepCtx waits d (a settling period before a measurement) or until ctx
// ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
