package leaf

import (
	"context"
	"errors"
	"sort"
	"time"
)

// maxAttempts bounds the supernodes one request is sent to, and maxWaits the
// times it waits for a new primary after every attached supernode failed.
const (
	maxAttempts = 8
	maxWaits    = 2
)

// targets lists the attached supernodes in the order a request tries them:
// the primary first, then backups by RTT, silent ones (a heartbeat
// unanswered for longer than usual) after every other.
func (a *Agent) targets() []*session {
	a.mu.Lock()
	all, primary := a.attachedLocked(), a.primary
	a.mu.Unlock()
	silent := make(map[*session]bool, len(all))
	for _, s := range all {
		silent[s] = s.silent()
	}
	sort.SliceStable(all, func(i, j int) bool {
		if silent[all[i]] != silent[all[j]] {
			return !silent[all[i]]
		}
		if pi, pj := all[i] == primary, all[j] == primary; pi != pj {
			return pi
		}
		return all[i].rtt < all[j].rtt
	})
	return all
}

type attemptResult[T any] struct {
	s   *session
	v   T
	err error
}

type attempt struct {
	cancel context.CancelFunc
	start  time.Time
}

// exchange sends one request through the overlay and returns the first
// answer. It goes to the first of targets(); when that supernode has not
// answered within the bound learned from its recent answers of this kind,
// it goes to the next one too if hedge is set, or else (announces) only if
// the first has gone silent; at most two are asked at once. A failure that
// is a supernode's is charged to it (faultOf) and the request moves on to
// the next supernode at once; when every attached supernode failed it
// waits for a new primary. Once one answers, the others are cancelled.
// While this process is itself a supernode, requests go to it alone.
func exchange[T any](a *Agent, ctx context.Context, kind string, hedge bool, try func(context.Context, route) (T, error)) (T, error) {
	var zero T
	results := make(chan attemptResult[T], maxAttempts)
	inflight := map[*session]attempt{}
	tried := map[*session]bool{}
	launched, waits := 0, 0
	var lastErr error
	var newest *session // the attempt the timer watches
	timer := a.clock.Timer(time.Hour)
	timer.Stop()
	defer func() {
		timer.Stop()
		for _, at := range inflight {
			at.cancel()
		}
	}()
	arm := func(d time.Duration) {
		timer.Stop()
		select { // a tick that fired before Stop (mock clocks keep it)
		case <-timer.C:
		default:
		}
		timer.Reset(d)
	}
	launch := func() bool {
		if launched == maxAttempts {
			return false
		}
		for _, s := range a.targets() {
			if tried[s] {
				continue
			}
			tried[s] = true
			launched++
			actx, cancel := context.WithCancel(ctx)
			inflight[s] = attempt{cancel: cancel, start: a.clock.Now()}
			newest = s
			go func() {
				v, err := try(actx, s)
				results <- attemptResult[T]{s: s, v: v, err: err}
			}()
			arm(s.hedgeAfter(kind))
			return true
		}
		return false
	}
	for {
		if len(inflight) == 0 {
			a.mu.Lock()
			local, closed := a.local, a.closed
			a.mu.Unlock()
			if closed {
				return zero, ErrClosed
			}
			if local != nil {
				return try(ctx, localRoute{local})
			}
			if !launch() {
				if waits == maxWaits || launched == maxAttempts {
					if lastErr == nil {
						lastErr = a.noSupernode(nil)
					}
					return zero, lastErr
				}
				waits++
				r, err := a.waitPrimary(ctx)
				if err != nil {
					if lastErr != nil && !errors.Is(err, ErrClosed) && ctx.Err() == nil {
						return zero, errors.Join(err, lastErr)
					}
					return zero, err
				}
				if l, ok := r.(localRoute); ok {
					return try(ctx, l)
				}
				continue
			}
		}
		select {
		case r := <-results:
			inflight[r.s].cancel()
			delete(inflight, r.s)
			if r.err == nil {
				for s, at := range inflight {
					at.cancel()
					s.abandoned(kind, a.clock.Since(at.start))
				}
				return r.v, nil
			}
			switch faultOf(r.err) {
			case faultCaller:
				if ctx.Err() != nil {
					return zero, ctx.Err()
				}
				return zero, r.err
			case faultOurs:
				return zero, r.err
			case faultSupernode:
				a.charge(r.s, r.err)
			}
			lastErr = r.err
			for s := range inflight { // the other attempt, if any, is now the one to watch
				newest = s
				arm(s.hedgeAfter(kind))
			}
		case <-timer.C:
			// The watched supernode has not answered in time.
			if len(inflight) >= 2 {
				continue
			}
			if hedge || newest.silent() {
				launch()
				continue
			}
			// Not silent yet. Unless it answered anything since this
			// request was sent, have a heartbeat tell now; look again.
			if !newest.heardSince(inflight[newest].start) {
				newest.probe()
			}
			arm(max(newest.silenceBound(), newest.heartbeatInterval()/4))
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}
