package supernode

import (
	"context"
	"runtime"
	"time"
)

// Announcement work that runs on a core — verifying a batch's Merkle root,
// writing records — takes one of cores−1 slots (at least one), waiting for
// it rather than competing for the processor: under a flood of
// announcements the runnable goroutines stay few, so an attached leaf's
// lookup finds a free core instead of queueing behind hundreds of batches
// (issue 14, acceptance 4). Cheap refusals (budgets, capacity) come before
// the wait, so a flood mostly costs a decode and a refusal.

// cpuWorkers is the number of slots: the CPUs − 1, at least 1, and at
// most GOMAXPROCS (the daemon runs with more Ps than CPUs so that a lookup
// need not wait for one: cmd/supertracker/procs.go).
func cpuWorkers() int64 {
	return int64(max(1, min(runtime.NumCPU(), runtime.GOMAXPROCS(0))-1))
}

// cpuWork waits for a slot and returns its release.
func (n *Node) cpuWork(ctx context.Context) (func(), error) {
	if err := n.working.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { n.working.Release(1) }, nil
}

// maxRefusalDelay bounds how long an announcement refusal is held back.
const maxRefusalDelay = time.Second

// An announcement over its budget is refused only once the budget would
// have had room (at most maxRefusalDelay later), and one beyond the bound
// on announcements in flight first waits that long for a slot. A leaf
// streams its requests one at a time, so a flooding stream is answered
// at the pace the budgets allow instead of as fast as refusals can be
// decoded and written (tarpitting); each held stream is one sleeping
// goroutine.

// tarpit waits d (at most maxRefusalDelay), or until ctx or the node ends.
func (n *Node) tarpit(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	select {
	case <-n.clock.After(min(d, maxRefusalDelay)):
	case <-ctx.Done():
	case <-n.ctx.Done():
	}
}

// acquireAnnounce takes a slot for an announcement in flight, waiting at
// most maxRefusalDelay for one.
func (n *Node) acquireAnnounce(ctx context.Context) bool {
	if n.announcing.TryAcquire(1) {
		return true
	}
	ctx, cancel := n.clock.WithTimeout(ctx, maxRefusalDelay)
	defer cancel()
	return n.announcing.Acquire(ctx, 1) == nil
}
