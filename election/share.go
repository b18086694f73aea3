package election

import "math"

// A promotion relieves the demand only once the leaves have moved their
// lookups to the new supernode and the supernodes' load windows have
// measured it: seconds in a testnet, longer than the score stagger takes
// to fire the timers of leaves with equal scores. Every leaf behind the
// overloaded supernodes sees the same demand at the same moment; had each
// one whose timer fires while the demand still shows promoted, a testnet
// of 38 equal leaves promoted 20 in 6 s where 3 were needed
// (docs/load.md). So when its timer fires a leaf promotes with
// probability needShare — the share of the leaves behind its supernodes
// that the demand asks for — weighted by its score (0.5 + score: 1 on
// average over scores spread across [0, 1], so the best still go first);
// otherwise it waits another StaggerMax plus jitter and re-checks, by
// which time the promotions of others have shown.

// needShare is the fraction of the leaves behind the reporting supernodes
// that the demand calls for: the supernodes it takes to carry their load
// at the middle of the hysteresis band ((PromoteRho+DemoteRho)/2, and the
// same for fill), less the ones there are, over the leaf sessions they
// hold (every session counted: a leaf attached to two of them counts
// twice, which errs towards fewer promotions per round: counting sessions
// per reporter instead made 9–15 supernodes in the test below). At least
// one promotion is called for (the demand holds), so the share is > 0.
func (m *Machine) needShare(v demandView) float64 {
	if v.peers == 0 || v.peerLeaves <= 0 {
		return 1
	}
	cfg := m.cfg
	midRho := (cfg.PromoteRho + cfg.DemoteRho) / 2
	midFill := (cfg.PromoteFill + cfg.DemoteFill) / 2
	want := 0.0
	if midRho > 0 {
		want = math.Ceil(v.peerRho / midRho)
	}
	if midFill > 0 && v.peerCap > 0 {
		perSN := float64(v.peerCap) / float64(v.peers)
		want = math.Max(want, math.Ceil(float64(v.peerLeaves)/(midFill*perSN)))
	}
	extra := math.Max(1, want-float64(v.peers))
	return math.Min(1, extra/float64(v.peerLeaves))
}

// drawsPromotion reports whether this leaf promotes now on a need, with
// probability needShare·(0.5 + score), at most 1. A need of fill alone
// (ρ below PromoteRho) is not thinned: it is relieved as soon as the new
// supernode is found (a leaf refused a session attaches to it at once),
// which the stagger covers, and thinning it left restarted leaves of the
// default testnet without a supernode with room (lookups 97.7 %, not
// 99.8 %).
func (m *Machine) drawsPromotion(v demandView, score float64) bool {
	if v.leafRho() < m.cfg.PromoteRho {
		return true
	}
	p := m.needShare(v) * (0.5 + score)
	return p >= 1 || m.rng.Float64() < p
}
