package launcher

import (
	"context"
	"errors"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/workload"
)

// execute runs every op of the schedule at t0 + op.At (event-log time),
// then waits for the end of the scheduled window. It returns "done", or
// "interrupted" if ctx ended first.
func (r *runner) execute(ctx context.Context, t0 time.Duration) string {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	wait := func(until time.Duration) bool {
		d := until - r.w.Now()
		if d <= 0 {
			return ctx.Err() == nil
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		}
	}
	for i := range r.sched.Ops {
		op := &r.sched.Ops[i]
		if !wait(t0 + op.At) {
			return "interrupted"
		}
		r.do(op)
	}
	if !wait(t0 + r.sc.Duration.Duration) {
		return "interrupted"
	}
	return "done"
}

func (r *runner) issued(op *workload.Op, node int, skipped string) {
	r.emit(events.OpIssued{OpID: op.ID, Op: string(op.Kind), At: op.At, Node: node, Object: op.Object, Skipped: skipped})
}

// do carries out one op. Kills happen here (SIGKILL is immediate);
// restarts, announces and lookups run in the background.
func (r *runner) do(op *workload.Op) {
	switch op.Kind {
	case workload.Announce, workload.Lookup:
		n := r.nodes[op.Node]
		if !n.up() {
			r.issued(op, op.Node, events.SkipNodeDown)
			return
		}
		r.issued(op, op.Node, "")
		r.reqs.Add(1)
		go r.request(op, n)
	case workload.Kill:
		r.killOp(op, op.Node, op.Cause)
	case workload.KillSupernode:
		sns := r.currentSupernodes()
		if len(sns) == 0 {
			r.issued(op, -1, events.SkipNoSupernode)
			return
		}
		s := len(sns)
		v := sns[((op.Index%s)+s)%s]
		r.mu.Lock()
		r.picked[op.ID] = v
		r.mu.Unlock()
		cause := op.Cause
		if cause == "" {
			cause = events.CauseTargeted
		}
		r.killOp(op, v, cause)
	case workload.Restart:
		v := op.Node
		if v < 0 {
			r.mu.Lock()
			picked, ok := r.picked[op.Ref]
			r.mu.Unlock()
			if !ok {
				r.issued(op, -1, events.SkipNoSupernode)
				return
			}
			v = picked
		}
		if !r.restart(r.nodes[v], op.Cause, func() { r.issued(op, v, "") }) {
			r.issued(op, v, skipNodeUp)
		}
	case workload.MassFailure:
		r.issued(op, -1, "")
	default:
		r.issued(op, op.Node, "unknown_op")
	}
}

func (r *runner) killOp(op *workload.Op, v int, cause string) {
	if cause == "" {
		cause = events.CauseChurn
	}
	if !r.kill(r.nodes[v], cause, func() { r.issued(op, v, "") }) {
		r.issued(op, v, events.SkipNodeDown)
	}
}

// Timeouts of the requests the launcher issues.
func (r *runner) requestTimeout(kind workload.Kind) time.Duration {
	lt := r.sc.LookupTimeout.Duration
	if kind == workload.Lookup {
		return lt
	}
	return max(2*lt, 10*time.Second) // announces wait for replication
}

// request performs one announce or lookup through node n's API and logs
// its result. Results of requests cut short by the end of the run are not
// logged.
func (r *runner) request(op *workload.Op, n *node) {
	defer r.reqs.Done()
	timeout := r.requestTimeout(op.Kind)
	ctx, cancel := context.WithTimeout(r.reqCtx, timeout)
	defer cancel()
	c := workload.ObjectCID(op.Object).String()
	start := time.Now()
	if op.Kind == workload.Announce {
		_, err := n.client.Announce(ctx, []string{c})
		lat := time.Since(start)
		if r.reqCtx.Err() != nil {
			return
		}
		status, msg := classify(ctx, err)
		r.emit(events.AnnounceResult{OpID: op.ID, Node: n.idx, Object: op.Object, Latency: lat, Status: status, Error: msg})
		return
	}
	res, err := n.client.Lookup(ctx, c, 0)
	lat := time.Since(start)
	if r.reqCtx.Err() != nil {
		return
	}
	status, msg := classify(ctx, err)
	ev := events.LookupResult{OpID: op.ID, Node: n.idx, Object: op.Object, Latency: lat, Status: status, Error: msg}
	if status == events.StatusOK {
		ev.Holders = len(res.Holders)
		for _, h := range res.Holders {
			if r.alive(h.PeerID) {
				ev.HoldersAlive++
			}
		}
	}
	r.emit(ev)
}

// classify maps a request's error to an event status.
func classify(ctx context.Context, err error) (status, msg string) {
	switch {
	case err == nil:
		return events.StatusOK, ""
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded):
		return events.StatusTimeout, err.Error()
	}
	return events.StatusError, err.Error()
}

// alive reports whether the node with this peer ID has a running process
// now.
func (r *runner) alive(peerID string) bool {
	r.mu.Lock()
	i, ok := r.byPeer[peerID]
	r.mu.Unlock()
	if !ok {
		return false
	}
	n := r.nodes[i]
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != stateUp {
		return false
	}
	select {
	case <-n.p.Done(): // died a moment ago; its watcher has not run yet
		return false
	default:
		return true
	}
}
