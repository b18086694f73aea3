package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
)

// RecordLoad puts registrations into one supernode: P3's and growth's
// load generator. This one runs W leaf agents attached to that supernode
// only, each announcing fresh CIDs in a closed loop, so their signing CPU
// is spent in this process too. A generator that sends pre-signed
// envelopes (a leaf's signing CPU is the leaf's, not the supernode's) can
// replace it behind this interface.
type RecordLoad interface {
	// Run announces batches of batch fresh CIDs from every worker in closed
	// loops, starting no new announce after d, and reports what the
	// supernode accepted.
	Run(ctx context.Context, batch int, d time.Duration) (LoadResult, error)
	// Workers is W.
	Workers() int
}

// LoadResult is what one Run registered.
type LoadResult struct {
	Records   int           // CIDs accepted (each stored on r supernodes)
	Announces int           // announces that returned successfully
	Failures  int           // announces that failed
	Elapsed   time.Duration // start to the last announce's return
	// ReplicaSum: supernodes that stored each announce, summed over the
	// announces (Replicas/Announces is the mean).
	ReplicaSum int
}

// RecordsPerSecond is Records / Elapsed.
func (r LoadResult) RecordsPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// leafLoad is RecordLoad with leaf agents (no backups, so every announce
// goes to the measured supernode).
type leafLoad struct {
	o      *overlayNet
	leaves []int
	gen    atomic.Int64
}

// newLeafLoad attaches workers leaf agents to supernode target only.
func newLeafLoad(ctx context.Context, o *overlayNet, target, workers int) (RecordLoad, error) {
	leaves, err := o.addLeaves(ctx, workers, 0, func(int) []int { return []int{target} })
	if err != nil {
		return nil, err
	}
	for _, l := range leaves {
		if p := o.primary(l); p != target {
			return nil, fmt.Errorf("load leaf %d attached to supernode %d, not %d", l, p, target)
		}
	}
	return &leafLoad{o: o, leaves: leaves}, nil
}

func (g *leafLoad) Workers() int { return len(g.leaves) }

func (g *leafLoad) Run(ctx context.Context, batch int, d time.Duration) (LoadResult, error) {
	gen := g.gen.Add(1)
	start := time.Now()
	stop := start.Add(d)
	var (
		mu   sync.Mutex
		res  LoadResult
		last time.Time
		wg   sync.WaitGroup
	)
	for w, l := range g.leaves {
		wg.Go(func() {
			var records, announces, failures, replicas int
			for seq := 0; time.Now().Before(stop) && ctx.Err() == nil; seq++ {
				cids := make([]cid.Cid, batch)
				for i := range cids {
					cids[i] = benchCID(fmt.Sprintf("load/%d/%d/%d", gen, w, seq), i)
				}
				actx, cancel := context.WithTimeout(ctx, 30*time.Second)
				n, r, err := g.o.announceGo(actx, l, cids)
				cancel()
				if err != nil {
					failures++
					continue
				}
				records += n
				replicas += r
				announces++
			}
			now := time.Now()
			mu.Lock()
			res.Records += records
			res.Announces += announces
			res.Failures += failures
			res.ReplicaSum += replicas
			if now.After(last) {
				last = now
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	res.Elapsed = last.Sub(start)
	return res, ctx.Err()
}
