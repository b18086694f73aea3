package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// benchCID names object i of a set: CIDv1 raw over sha2-256 of the name.
func benchCID(set string, i int) cid.Cid {
	h, err := mh.Sum(fmt.Appendf(nil, "supertracker-bench/%s/%d", set, i), mh.SHA2_256, -1)
	if err != nil { // cannot happen: fixed code and length
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// parallel runs f(0..n-1) with at most conc at once and joins the errors.
func parallel(n, conc int, f func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, max(conc, 1))
	)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// ErrTimeout is wrapped by waitUntil when the condition never held.
var ErrTimeout = errors.New("timed out")

// waitUntil polls cond every 20 ms until it holds, ctx ends or d passes.
func waitUntil(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s waiting for %s", ErrTimeout, d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling interval, not synchronisation
		}
	}
	return nil
}

// refresher asks a routing table for a refresh at most once per interval
// (kad-dht queues every request; asking on every poll floods the network
// with refresh walks).
type refresher struct {
	every time.Duration
	last  map[int]time.Time
}

func newRefresher(every time.Duration) *refresher {
	return &refresher{every: every, last: make(map[int]time.Time)}
}

// due reports whether node i may be asked again, and notes the ask.
func (r *refresher) due(i int) bool {
	if time.Since(r.last[i]) < r.every {
		return false
	}
	r.last[i] = time.Now()
	return true
}
