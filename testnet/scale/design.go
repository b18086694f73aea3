package scale

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// Design names.
const (
	DesignOverlay = "overlay"  // supertracker: supernodes + leaves
	DesignFlat    = "flat_kad" // every peer a stock kad-dht server
)

// design is what the driver needs from a tracker design: bring the
// schedule's initial peers up, let peers come and go, announce, look up.
// Implementations: overlay.go (the project's supernode and leaf code) and
// flat.go (stock kad-dht).
type design interface {
	name() string
	// setup starts every initial slot of s in w and announces what the
	// leaves hold; it returns once they are all up.
	setup(ctx context.Context, s *Schedule, w *world) error
	// join starts a newcomer (a leaf) and announces its holdings.
	join(ctx context.Context, slot int) error
	// leave kills slot's peer (its host is already gone from w).
	leave(slot int)
	// announce publishes that slot holds objs.
	announce(ctx context.Context, slot int, objs []int) error
	// lookup asks, as slot, for holders of obj; a design may stop reading
	// early once enough(holder) returns true (a client dials as it goes).
	lookup(ctx context.Context, slot, obj int, enough func(peer.ID) bool) ([]peer.ID, error)
	// role is "supernode", "leaf" or "dht" (flat: every node).
	role(slot int) string
	// params describes the design's configuration for the report.
	params() map[string]any
	// upkeep lists the design's periodic maintenance: each task is run
	// once on every live node to measure what one round costs, which is
	// then spread over its period (the quiet window sees only the
	// continuous upkeep: heartbeats, churn).
	upkeep() []upkeepTask
	close()
}

// upkeepTask is one periodic maintenance task of a design. Run carries it
// out on a Fraction of the nodes that do it (a sample: the cost of a full
// round is the measured traffic divided by Fraction).
type upkeepTask struct {
	Name     string
	Period   time.Duration
	Fraction float64
	Run      func(ctx context.Context) error
}

// sample returns about frac of xs (at least one), chosen with r.
func sample[T any](r *rand.Rand, xs []T, frac float64) []T {
	if frac >= 1 {
		return xs
	}
	return pick(r, xs, max(1, int(math.Round(frac*float64(len(xs))))))
}

// objectCID names object o: CIDv1 raw over sha2-256 of a fixed label.
func objectCID(o int) cid.Cid {
	h, _ := mh.Sum(fmt.Appendf(nil, "supertracker-scale-object-%d", o), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h)
}

func objectCIDs(objs []int) []cid.Cid {
	out := make([]cid.Cid, len(objs))
	for i, o := range objs {
		out[i] = objectCID(o)
	}
	return out
}

// parallel runs f on every item with at most k at a time and returns the
// first error.
func parallel[T any](ctx context.Context, items []T, k int, f func(context.Context, T) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, k)
	)
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(ctx, it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// pick returns up to k distinct items of xs drawn with r.
func pick[T any](r *rand.Rand, xs []T, k int) []T {
	idx := r.Perm(len(xs))
	out := make([]T, 0, min(k, len(xs)))
	for _, i := range idx[:min(k, len(xs))] {
		out = append(out, xs[i])
	}
	return out
}
