package election

import (
	"fmt"
	"maps"
	"math"
	"slices"
)

// demandView aggregates the fresh load reports at the machine's clock.
type demandView struct {
	peers      int // fresh Demand reports from other supernodes
	peerRho    float64
	peerLeaves int
	peerCap    int
	// Of those, the ones not leaving (Demand.Leaving unset): the supernodes
	// that will carry the load.
	staying    int
	stayingCap int
	// below: staying reporters that rank below this node (lower score, or
	// equal score and lower ID): they leave first on a surplus.
	below int

	// above: fresh candidates (leaves with a promotion pending) that rank
	// above this node; best is the highest-ranked of them.
	above int
	best  Candidate

	own               bool // fresh own Load (only used while a supernode)
	ownRho            float64
	ownLeaves, ownCap int
	supernodes        int
	supernodesKnown   bool
}

func (m *Machine) demand() demandView {
	var v demandView
	self := m.score()
	// Sorted so float sums, hence decisions, do not depend on map order.
	for _, k := range slices.Sorted(maps.Keys(m.reports)) {
		r := m.reports[k]
		if !fresh(m.now, r.At, m.cfg.ReportTTL) {
			continue
		}
		v.peers++
		v.peerRho += r.Rho
		v.peerLeaves += r.Leaves
		v.peerCap += r.MaxLeaves
		if r.Leaving {
			continue
		}
		v.staying++
		v.stayingCap += r.MaxLeaves
		if ranksBelow(r.Score, r.From, self, m.cfg.ID) {
			v.below++
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m.candidates)) {
		c := m.candidates[k]
		if !fresh(m.now, c.At, m.cfg.ReportTTL) || !outranks(c.Score, c.From, self, m.cfg.ID) {
			continue
		}
		if v.above == 0 || outranks(c.Score, c.From, v.best.Score, v.best.From) {
			v.best = c
		}
		v.above++
	}
	if l := m.load; l != nil && fresh(m.now, l.At, m.cfg.ReportTTL) {
		v.own, v.ownRho, v.ownLeaves = true, l.Rho, l.Leaves
		v.ownCap = l.MaxLeaves
		if v.ownCap == 0 {
			v.ownCap = m.cfg.MaxLeaves
		}
	}
	if s := m.supernodes; s != nil {
		v.supernodesKnown, v.supernodes = true, s.Reachable
	}
	return v
}

func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// Leaf view: the supernodes that report to us.
func (v demandView) leafRho() float64  { return ratio(v.peerRho, float64(v.peers)) }
func (v demandView) leafFill() float64 { return ratio(float64(v.peerLeaves), float64(v.peerCap)) }

// Supernode view: peers and ourselves.
func (v demandView) allRho() float64 {
	return ratio(v.peerRho+v.ownRho, float64(v.peers+1))
}
func (v demandView) allFill() float64 {
	return ratio(float64(v.peerLeaves+v.ownLeaves), float64(v.peerCap+v.ownCap))
}

// scoreTie: scores closer than this rank as equal and the IDs decide. A
// reported score is as old as its report, and uptime keeps raising ours
// meanwhile (ScoreUptime 5 min, ReportTTL 5 s: 0.008 in the local preset),
// so two nodes of near-equal score would each see the other one below.
const scoreTie = 0.02

// ranksBelow: a peer (score, id) goes before this node (self, selfID) on
// a surplus: a lower score, or an equal one (within scoreTie) and a lower
// ID. Without selfID, equal scores rank neither way.
func ranksBelow(score float64, id string, self float64, selfID string) bool {
	if math.Abs(score-self) >= scoreTie {
		return score < self
	}
	return selfID != "" && id < selfID
}

// outranks: a candidate (score, id) goes before this node (self, selfID)
// on a promotion: a higher score, or an equal one (within scoreTie) and a
// higher ID. Without selfID, equal scores rank neither way. It mirrors
// ranksBelow, so two nodes that hear of each other agree which goes first.
func outranks(score float64, id string, self float64, selfID string) bool {
	if math.Abs(score-self) >= scoreTie {
		return score > self
	}
	return selfID != "" && id > selfID
}

// aboveText names the candidates ranked above this node.
func (v demandView) aboveText() string {
	return fmt.Sprintf("%d candidate(s) ranked above this node (best %s, score %.2f)", v.above, v.best.From, v.best.Score)
}

// After we leave, and every peer that reports Leaving: the arrivals and
// leaves of all spread over the peers that stay (equal μ assumed).
func (v demandView) projRho() float64 { return ratio(v.peerRho+v.ownRho, float64(v.staying)) }
func (v demandView) projFill() float64 {
	return ratio(float64(v.peerLeaves+v.ownLeaves), float64(v.stayingCap))
}

// sole: no other supernode is known to exist, or every other one is leaving.
func (v demandView) sole() bool {
	return v.staying == 0 || (v.supernodesKnown && v.supernodes == 0)
}

// leavingText names the leaving peers a projection leaves out.
func (v demandView) leavingText() string {
	if n := v.peers - v.staying; n > 0 {
		return fmt.Sprintf(" and %d leaving", n)
	}
	return ""
}

// lazyText is a lazily formatted explanation: the machine evaluates on every
// observation but formats only what it emits or shows.
type lazyText struct {
	format string
	args   []any
}

func why(format string, args ...any) lazyText { return lazyText{format, args} }

func (r lazyText) String() string {
	if len(r.args) == 0 {
		return r.format
	}
	return fmt.Sprintf(r.format, r.args...)
}

// need: the supernodes reporting to a leaf ask for more capacity.
func (m *Machine) need(v demandView) (bool, lazyText) {
	if v.peers == 0 {
		return false, why("no supernode reports")
	}
	rho, fill := v.leafRho(), v.leafFill()
	switch {
	case rho >= m.cfg.PromoteRho:
		return true, why("demand: ρ %.2f ≥ %.2f (fill %.2f) over %d supernodes", rho, m.cfg.PromoteRho, fill, v.peers)
	case fill >= m.cfg.PromoteFill:
		return true, why("demand: fill %.2f ≥ %.2f (ρ %.2f) over %d supernodes", fill, m.cfg.PromoteFill, rho, v.peers)
	}
	return false, why("no demand: ρ %.2f, fill %.2f over %d supernodes", rho, fill, v.peers)
}

// empty: no supernode reachable at all, so the overlay must bootstrap itself.
func (m *Machine) empty(v demandView) (bool, lazyText) {
	if v.supernodesKnown && v.supernodes == 0 && v.peers == 0 {
		return true, why("no supernode reachable: empty overlay bootstraps")
	}
	return false, why("supernodes reachable or reporting")
}

// surplus: a supernode's overlay has spare capacity it can give up.
func (m *Machine) surplus(v demandView) (bool, lazyText) {
	cfg := m.cfg
	switch {
	case !v.own:
		return false, why("own load unknown")
	case v.sole() && v.peers > v.staying:
		return false, why("every other supernode (%d) is leaving: the last one stays", v.peers)
	case v.sole():
		return false, why("sole supernode: never demotes for surplus")
	}
	rho, fill := v.allRho(), v.allFill()
	prho, pfill := v.projRho(), v.projFill()
	switch {
	case rho > cfg.DemoteRho || fill > cfg.DemoteFill:
		return false, why("no surplus: ρ %.2f, fill %.2f over %d supernodes incl. self", rho, fill, v.peers+1)
	case prho >= cfg.PromoteRho || pfill >= cfg.PromoteFill:
		return false, why("no surplus: ρ %.2f, fill %.2f over %d supernodes incl. self, but without self%s ρ %.2f, fill %.2f would reach the promote band",
			rho, fill, v.peers+1, v.leavingText(), prho, pfill)
	}
	return true, why("surplus: ρ %.2f ≤ %.2f, fill %.2f ≤ %.2f over %d supernodes incl. self; without self%s ρ %.2f, fill %.2f",
		rho, cfg.DemoteRho, fill, cfg.DemoteFill, v.peers+1, v.leavingText(), prho, pfill)
}
