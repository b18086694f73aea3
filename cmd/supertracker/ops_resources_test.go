package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode/persist"
)

// TestMeasureSupernodeResources measures a real supernode process (default
// timings) serving N leaves (in this process): each announces 20 objects,
// heartbeats every second and looks one up every L. It reports the
// supernode's RSS and CPU for docs/operators.md. It runs only with
// SUPERTRACKER_MEASURE=1; SUPERTRACKER_MEASURE_LEAVES lists N/L pairs
// (default 50/10s,200/10s,200/1s). One process holds at most ~300 leaf
// hosts within a 20000 file descriptor limit.
func TestMeasureSupernodeResources(t *testing.T) {
	if os.Getenv("SUPERTRACKER_MEASURE") != "1" {
		t.Skip("a measurement, not a test: set SUPERTRACKER_MEASURE=1")
	}
	bin := binary(t)
	spec := "50/10s,200/10s,200/1s"
	if s := os.Getenv("SUPERTRACKER_MEASURE_LEAVES"); s != "" {
		spec = s
	}
	for _, p := range strings.Split(spec, ",") {
		ns, ls, _ := strings.Cut(p, "/")
		n, err := strconv.Atoi(ns)
		if err != nil {
			t.Fatal(err)
		}
		every, err := time.ParseDuration(ls)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(p, func(t *testing.T) { measure(t, bin, n, every) })
	}
}

func measure(t *testing.T, bin string, nLeaves int, lookupEvery time.Duration) {
	const (
		perLeaf = 20
		window  = 60 * time.Second
	)
	dir := t.TempDir()
	sn := newOpsProc(t, dir, "sn", "supernode", opsIP(71), "0", "--max-leaves", strconv.Itoa(nLeaves+10), "--log-level", "warn")
	sn.start(t, bin)
	snInfo, err := peer.AddrInfoFromP2pAddr(ma.StringCast(sn.addr()))
	if err != nil {
		t.Fatal(err)
	}
	idle := sample(t, sn.p.PID())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		agents  []*leaf.Agent
		lookups int
		found   int
		failed  int
	)
	var all []cid.Cid
	for i := 0; i < nLeaves; i++ {
		h, err := libp2p.New(libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/127.0.72.%d/tcp/0", 1+i%250)))
		if err != nil {
			t.Fatal(err)
		}
		cfg := leaf.DefaultConfig()
		cfg.Supernodes, cfg.DataDir = []peer.AddrInfo{*snInfo}, filepath.Join(dir, fmt.Sprintf("leaf%d", i))
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			t.Fatal(err)
		}
		cfg.Logger = quietLogger()
		// One supernode: no backup to fill (a leaf would otherwise keep
		// trying the peers it met, other leaves, as backups).
		cfg.Backups = 0
		a, err := leaf.New(h, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close(); h.Close() })
		agents = append(agents, a)
	}
	start := time.Now()
	for i, a := range agents {
		wg.Go(func() {
			wctx, c := context.WithTimeout(ctx, 60*time.Second)
			defer c()
			if err := a.WaitAttached(wctx); err != nil {
				t.Errorf("leaf %d: %v", i, err)
				return
			}
			var cids []cid.Cid
			for j := 0; j < perLeaf; j++ {
				k, _ := cid.Decode(opsCID(fmt.Sprintf("measure-%d", i), j))
				cids = append(cids, k)
			}
			if _, err := a.Announce(wctx, cids); err != nil {
				t.Errorf("leaf %d announce: %v", i, err)
			}
			mu.Lock()
			all = append(all, cids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	t.Logf("%d leaves attached and announced %d objects in %s", nLeaves, nLeaves*perLeaf, time.Since(start).Round(time.Millisecond))

	// Steady state: lookups spread over the window.
	before, self0 := sample(t, sn.p.PID()), sample(t, os.Getpid())
	msgs0 := leafRequests(t, sn.api)
	for i, a := range agents {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(i), 1))
			tick := time.NewTimer(time.Duration(r.Int64N(int64(lookupEvery))))
			defer tick.Stop()
			end := time.After(window)
			for {
				select {
				case <-ctx.Done():
					return
				case <-end:
					return
				case <-tick.C:
				}
				mu.Lock()
				k := all[r.IntN(len(all))]
				mu.Unlock()
				lctx, c := context.WithTimeout(ctx, 10*time.Second)
				hs, err := a.Lookup(lctx, k, 0)
				c()
				mu.Lock()
				lookups++
				if err != nil {
					failed++
				} else if len(hs) > 0 {
					found++
				}
				mu.Unlock()
				tick.Reset(lookupEvery)
			}
		})
	}
	wg.Wait()
	after, self1 := sample(t, sn.p.PID()), sample(t, os.Getpid())
	reqs := (leafRequests(t, sn.api) - msgs0) / window.Seconds()
	cpu := (after.cpu - before.cpu).Seconds() / window.Seconds()
	leafCPU := (self1.cpu - self0.cpu).Seconds() / window.Seconds()
	st, _ := sn.client().Status(t.Context())
	du := dirSize(filepath.Join(dir, "sn", persist.DatastoreDir))
	t.Logf("N=%d leaves, a lookup per leaf every %s: supernode RSS idle %.1f MiB → %.1f MiB (peak %.1f MiB), CPU %.1f%% of one core over %s; "+
		"%d lookups (%d found, %d failed), %.0f leaf requests/s, %d leaves attached, records %d, datastore %.1f MiB; the leaves' process used %.0f%% CPU",
		nLeaves, lookupEvery, idle.rssMiB, after.rssMiB, after.hwmMiB, 100*cpu, window, lookups, found, failed,
		reqs, *st.Leaves, *st.Records, float64(du)/(1<<20), 100*leafCPU)
}

type procSample struct {
	rssMiB, hwmMiB float64
	cpu            time.Duration
}

// sample reads a process's RSS, peak RSS and CPU time from /proc.
func sample(t *testing.T, pid int) procSample {
	t.Helper()
	var s procSample
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			kb, _ := strconv.ParseFloat(f[1], 64)
			if f[0] == "VmRSS:" {
				s.rssMiB = kb / 1024
			} else {
				s.hwmMiB = kb / 1024
			}
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, clock ticks (100 Hz)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.cpu = time.Duration(ut+st) * 10 * time.Millisecond
	return s
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// leafRequests is the number of leaf-protocol requests a supernode served.
func leafRequests(t *testing.T, api string) float64 {
	t.Helper()
	n := 0.0
	mf := scrape(t, api)["supertracker_traffic_messages_total"]
	for _, m := range mf.GetMetric() {
		var kind, dir string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "kind":
				kind = l.GetValue()
			case "direction":
				dir = l.GetValue()
			}
		}
		if dir == "in" && strings.HasPrefix(kind, "leaf/") {
			n += m.GetCounter().GetValue()
		}
	}
	return n
}
