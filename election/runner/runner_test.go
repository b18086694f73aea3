package runner_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/runner"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

const (
	minUpload  = 32 << 10 // eligible from 32 KiB/s
	slowUpload = 8 << 10  // capped nodes: 8 KiB/s, never eligible
	maxLeaves  = 8
	recordTTL  = 15 * time.Second // refresh every 5 s
)

// node is one runner on its own host.
type node struct {
	h      host.Host
	r      *runner.Runner
	capped bool
	object cid.Cid
	dead   atomic.Bool
}

func objectOf(i int) cid.Cid {
	h, _ := mh.Sum([]byte(fmt.Sprintf("runner-test-object-%d", i)), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

// testConfig: thresholds in seconds so a test converges in tens of seconds.
// CPU and memory headroom are not tested here (MinHeadroom 0): the race
// detector and parallel packages load this machine unpredictably.
func testConfig(t *testing.T, known []peer.AddrInfo, capped bool, seed uint64) runner.Config {
	c := runner.LocalConfig()
	c.Logger = quiet
	c.Seed = seed
	c.Tick = 250 * time.Millisecond
	c.ProbeInterval = 2 * time.Second
	c.ProbeBytes = 64 << 10
	c.ProbeDuration = 300 * time.Millisecond
	e := &c.Election
	e.MinUptime, e.MinAvgUptime = 2*time.Second, 2*time.Second
	e.MinUpload = minUpload
	e.MinHeadroom = 0
	e.MaxLeaves = maxLeaves
	e.DemandWindow = 1500 * time.Millisecond
	e.MinDwell = 6 * time.Second
	e.StaggerMax = 3 * time.Second
	e.Jitter = 500 * time.Millisecond
	e.Backoff, e.MaxBackoff = time.Second, 5*time.Second
	e.ReportTTL = 3 * time.Second
	c.Leaf.Supernodes = known
	c.Leaf.HeartbeatInterval = 250 * time.Millisecond
	c.Leaf.RequestTimeout = 3 * time.Second
	c.Leaf.DiscoveryInterval = time.Second
	c.Leaf.DataDir = t.TempDir()
	c.DataDir = c.Leaf.DataDir
	c.Supernode.ReplicationFactor = 4
	c.Supernode.RecordTTL = recordTTL
	c.Supernode.HeartbeatInterval = 250 * time.Millisecond
	c.Supernode.SessionTimeout = time.Second
	c.Supernode.GCInterval = 500 * time.Millisecond
	c.HandoverTimeout = 5 * time.Second
	if capped {
		c.UploadLimit = rate.NewLimiter(slowUpload, 1024)
	}
	return c
}

func startNode(t *testing.T, cfg runner.Config, capped bool, obj cid.Cid) *node {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := runner.New(h, cfg)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	n := &node{h: h, r: r, capped: capped, object: obj}
	t.Cleanup(func() { n.kill() })
	return n
}

// kill crashes the node: its host goes first (as with SIGKILL, peers see
// the connections drop), then its goroutines are stopped.
func (n *node) kill() {
	if n.dead.CompareAndSwap(false, true) {
		n.h.Close()
		n.r.Close()
	}
}

func (n *node) info() peer.AddrInfo { return peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()} }

type overlay struct {
	t     *testing.T
	seed  *node
	mu    sync.Mutex // nodes grows while the watcher reads it
	nodes []*node
}

func (o *overlay) add(n *node) {
	o.mu.Lock()
	o.nodes = append(o.nodes, n)
	o.mu.Unlock()
}

// start runs a forced seed supernode and n electing nodes, half of them
// capped below the upload threshold, started in waves.
func start(t *testing.T, n int) *overlay {
	o := &overlay{t: t}
	seedCfg := testConfig(t, nil, false, 1)
	seedCfg.ForceRole = runner.ForceSupernode
	o.seed = startNode(t, seedCfg, false, objectOf(0))
	for i := 1; i <= n; i++ {
		capped := i%2 == 0
		o.add(startNode(t, testConfig(t, []peer.AddrInfo{o.seed.info()}, capped, uint64(i+1)), capped, objectOf(i)))
		if i%8 == 0 {
			// Waves: start times differ (part of the scenario: uptimes
			// differ), not synchronisation.
			time.Sleep(500 * time.Millisecond)
		}
	}
	// Every node announces its object once attached. An announce fails fast
	// when no supernode can take it (all at capacity, or still converging
	// while supernodes get elected): try again until the overlay takes it.
	for _, nd := range o.all() {
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, err := nd.r.Agent().Announce(ctx, []cid.Cid{nd.object})
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("announce: %v", err)
			}
			select {
			case <-time.After(200 * time.Millisecond): // retry interval
			case <-t.Context().Done():
				t.Fatalf("announce: %v", err)
			}
		}
	}
	// Every node looks a few others up: it meets peers, as real ones do.
	all := o.all()
	for i, nd := range all {
		for k := 1; k <= 3; k++ {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			_, _ = nd.r.Agent().Lookup(ctx, all[(i+k*5)%len(all)].object, 0)
			cancel()
		}
	}
	return o
}

func (o *overlay) all() []*node {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*node{o.seed}, o.nodes...)
}

func (o *overlay) live() []*node {
	var out []*node
	for _, n := range o.all() {
		if !n.dead.Load() {
			out = append(out, n)
		}
	}
	return out
}

func (o *overlay) supernodes() []*node {
	var out []*node
	for _, n := range o.live() {
		if n.r.Role() == election.RoleSupernode {
			out = append(out, n)
		}
	}
	return out
}

// stable waits until no role change happened for quiet and no proposal
// is pending, and returns how long that took.
func (o *overlay) stable(quietFor, within time.Duration) time.Duration {
	o.t.Helper()
	start := time.Now()
	last := o.roleChanges()
	since := time.Now()
	waitFor(o.t, within, "roles to settle", func() bool {
		c := o.roleChanges()
		if c != last {
			last, since = c, time.Now()
			return false
		}
		for _, n := range o.live() {
			// Settled: no promotion pending, and every leaf attached
			// (leaves of a new supernode's neighbours move over after
			// the role change itself).
			if st := n.r.Status(); st.Pending != nil ||
				(n.r.Role() == election.RoleLeaf && n.r.Agent().Primary() == "") {
				since = time.Now()
				return false
			}
		}
		return time.Since(since) >= quietFor
	})
	return time.Since(start)
}

func (o *overlay) roleChanges() int {
	total := 0
	for _, n := range o.all() {
		total += n.r.RoleChanges()
	}
	return total
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			if f := os.Getenv("RUNNER_TEST_DUMP"); f != "" { // where to write every goroutine's stack
				if w, err := os.Create(f); err == nil {
					_ = pprof.Lookup("goroutine").WriteTo(w, 1)
					w.Close()
				}
			}
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval
	}
}

// watcher looks every live node's object up from a live leaf, all the time,
// and records for each object the longest time it was not findable.
type watcher struct {
	mu      sync.Mutex
	lastOK  map[cid.Cid]time.Time
	maxGap  map[cid.Cid]time.Duration
	stop    chan struct{}
	done    chan struct{}
	lookups int
}

func (o *overlay) watch() *watcher {
	w := &watcher{lastOK: map[cid.Cid]time.Time{}, maxGap: map[cid.Cid]time.Duration{}, stop: make(chan struct{}), done: make(chan struct{})}
	now := time.Now()
	for _, n := range o.all() {
		w.lastOK[n.object] = now
	}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			default:
			}
			// Look every live node's object up at once, from up to two
			// attached leaves: a record counts as findable if either finds it.
			var from []*node
			for _, n := range o.live() {
				if n.r.Role() == election.RoleLeaf && n.r.Agent().Primary() != "" && len(from) < 2 {
					from = append(from, n)
				}
			}
			if len(from) == 0 {
				time.Sleep(50 * time.Millisecond) // no leaf to look up from yet
				continue
			}
			var wg sync.WaitGroup
			for _, n := range o.live() {
				for _, f := range from {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
						got, err := f.r.Agent().Lookup(ctx, n.object, 0)
						cancel()
						found := false
						for _, h := range got {
							found = found || h.ID == n.h.ID()
						}
						w.mu.Lock()
						defer w.mu.Unlock()
						w.lookups++
						now := time.Now()
						if err == nil && found {
							if gap := now.Sub(w.lastOK[n.object]); gap > w.maxGap[n.object] {
								w.maxGap[n.object] = gap
							}
							w.lastOK[n.object] = now
						}
					}()
				}
			}
			wg.Wait()
		}
	}()
	return w
}

// finish stops the watcher and returns the worst gap over live nodes.
func (w *watcher) finish(o *overlay) (time.Duration, cid.Cid) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	var worst time.Duration
	var which cid.Cid
	for _, n := range o.live() {
		gap := max(w.maxGap[n.object], time.Since(w.lastOK[n.object]))
		if gap > worst {
			worst, which = gap, n.object
		}
	}
	return worst, which
}
