package runner

import (
	"time"

	"github.com/supertracker/supertracker/election"
)

// suspendGap decides, from the time between two ticks, whether the
// process was suspended, and for how long. mono is the gap on the
// monotonic clock, wall the gap on the wall clock. On Linux the monotonic
// clock stops while the machine sleeps, so a system suspend shows as the
// wall clock jumping ahead of it; a stopped process (SIGSTOP, a debugger,
// a VM paused) shows as ticks missed: a monotonic gap far beyond the tick.
// Either beyond threshold is a suspension; away is the longer gap.
func suspendGap(mono, wall, threshold time.Duration) (away time.Duration, suspended bool) {
	if threshold <= 0 {
		return 0, false
	}
	if wall-mono > threshold || mono > threshold {
		return max(mono, wall), true
	}
	return 0, false
}

// checkSuspended compares this tick with the previous one (both read with
// time.Now, so they carry monotonic readings) and handles a wake-up: the
// uptime history ends the session at the last tick before the sleep and
// starts a new one now, measurements are taken again at once, and the
// election is told (a supernode steps down at once).
func (r *Runner) checkSuspended(prev, now time.Time) {
	if prev.IsZero() {
		return
	}
	away, ok := suspendGap(now.Sub(prev), now.Round(0).Sub(prev.Round(0)), r.cfg.SuspendGap)
	if !ok {
		return
	}
	r.cfg.Logger.Warn("woke from a suspension", "away", away.Round(time.Millisecond), "role", r.Role())
	if err := r.hist.Begin(now); err != nil {
		r.cfg.Logger.Warn("uptime history: new session after the wake-up", "err", err)
	} else if err := r.saveHistory(); err != nil {
		r.cfg.Logger.Warn("saving uptime history", "err", err)
	}
	r.mu.Lock()
	r.lastProbe = time.Time{} // re-measure now: earlier measurements are void
	r.mu.Unlock()
	r.step(election.Suspended{Slept: away, At: now})
}
