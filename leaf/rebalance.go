package leaf

import (
	"errors"
	"math/rand/v2"
	"slices"
	"time"
)

// RebalanceConfig moves a leaf's lookups off an overloaded primary.
//
// A leaf sends its lookups to its primary, chosen at attach time (the
// lowest RTT with room) and kept until it fails. Without a move, a
// supernode the election promotes to relieve an overloaded one gets no
// lookups: the leaves stay where they are, the overloaded supernode keeps
// its queue, and the election, still seeing the demand, promotes more
// (measured: docs/load.md). So when the primary's reported utilisation ρ
// is at least Rho and a backup reports less than 3/4 of Rho, the leaf
// makes the lightest such backup its primary (the old primary stays
// attached as a backup): with probability 1 − (3/4)·Rho/ρ, so that about the share of
// leaves that brings the primary back below Rho moves, not all of them
// onto one idle supernode, at most once per Interval (longer than a
// supernode's load window, so the next look sees the last move's effect).
type RebalanceConfig struct {
	// Rho: the primary's ρ at which the leaf looks for a lighter backup;
	// 0 disables moving. The election's PromoteRho: the load at which the
	// overlay calls for more capacity.
	Rho float64
	// Interval between two looks.
	Interval time.Duration
}

// DefaultRebalanceConfig: at the election's PromoteRho, once a minute.
func DefaultRebalanceConfig() RebalanceConfig {
	return RebalanceConfig{Rho: 0.8, Interval: time.Minute}
}

func (c RebalanceConfig) validate() error {
	switch {
	case c.Rho < 0 || c.Rho != c.Rho:
		return errors.New("Rebalance.Rho must be ≥ 0")
	case c.Rho > 0 && c.Interval <= 0:
		return errors.New("Rebalance.Interval must be > 0")
	}
	return nil
}

// rebalanceShare is the fraction of Rho a move aims the primary at.
const rebalanceShare = 0.75

// rebalance is one look (maintain calls it every round; it acts at most
// once per Interval): it picks the lightest backup when the primary is
// overloaded and hands the switch to the background.
func (a *Agent) rebalance() {
	rc := a.cfg.Rebalance
	if rc.Rho <= 0 {
		return
	}
	now := a.clock.Now()
	a.mu.Lock()
	old := a.primary
	if old == nil || a.local != nil || a.closed || now.Before(a.nextRebalance) {
		a.mu.Unlock()
		return
	}
	a.nextRebalance = now.Add(rc.Interval)
	backups := slices.Clone(a.backups)
	a.mu.Unlock()
	pl := old.lastLoad()
	if pl == nil || pl.GetRho() < rc.Rho {
		return
	}
	var to *session
	best := rebalanceShare * rc.Rho
	for _, b := range backups {
		if l := b.lastLoad(); l != nil && !b.silent() && l.GetRho() < best {
			to, best = b, l.GetRho()
		}
	}
	if to == nil || rand.Float64() >= 1-rebalanceShare*rc.Rho/pl.GetRho() {
		return
	}
	a.background("rebalance", func() { a.movePrimary(old, to, pl.GetRho(), best) })
}

// movePrimary makes backup to the primary in place of old, which stays
// attached as a backup; the announced set is refreshed through to.
func (a *Agent) movePrimary(old, to *session, oldRho, toRho float64) {
	if err := a.attach(to, true); err != nil {
		if a.ctx.Err() == nil {
			a.charge(to, err)
		}
		return
	}
	a.mu.Lock()
	if a.closed || a.primary != old || !slices.Contains(a.backups, to) {
		a.mu.Unlock()
		to.probe() // it beats with its present role, whatever happened meanwhile
		return
	}
	a.backups = slices.DeleteFunc(a.backups, func(b *session) bool { return b == to })
	a.backups = append(a.backups, old)
	a.primary = to
	a.newRouteLocked()
	a.changedLocked()
	a.mu.Unlock()
	to.probe()
	old.probe() // its next heartbeat says it is a backup now
	a.poke()    // refresh the announced set through the new primary
	a.cfg.Logger.Info("moved primary to a lighter supernode", "from", old.info.ID, "rho", oldRho, "to", to.info.ID, "to_rho", toRho)
}
