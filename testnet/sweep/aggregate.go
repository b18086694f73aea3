package sweep

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/supertracker/supertracker/testnet/metrics"
)

// PointResult is one (sweep, x, design): the pooled measurement over the
// seeds, the model, and the tolerance check.
type PointResult struct {
	Sweep  string  `json:"sweep"`
	X      float64 `json:"x"`
	Design Design  `json:"design"`
	Key    string  `json:"key"`
	Runs   int     `json:"runs"`
	Failed int     `json:"failed_runs"`

	// Held lookups pooled over the runs: Rate = HeldSucceeded/Held with its
	// 95% Wilson interval; RunMean with a 95% t-interval over the runs.
	Held          int     `json:"held"`
	HeldSucceeded int     `json:"held_succeeded"`
	Rate          float64 `json:"rate"`
	Lo            float64 `json:"lo"`
	Hi            float64 `json:"hi"`
	RunMean       float64 `json:"run_mean"`
	RunLo         float64 `json:"run_lo"`
	RunHi         float64 `json:"run_hi"`
	RunCI         bool    `json:"run_ci"` // ≥ 2 runs
	// All lookups, the paper's criterion as package metrics computes it.
	Lookups   int     `json:"lookups"`
	Succeeded int     `json:"succeeded"`
	RawRate   float64 `json:"raw_rate"`
	// Latency of the answered held lookups, pooled (nearest rank).
	P50MS float64 `json:"p50_ms"`
	P95MS float64 `json:"p95_ms"`
	P99MS float64 `json:"p99_ms"`

	TrackerAvail float64        `json:"tracker_availability"` // mean over runs
	PUp          float64        `json:"p_up"`                 // the model's P_up for this design
	TrackerKills int            `json:"tracker_kills"`
	Outcomes     map[string]int `json:"outcomes"` // held lookups

	// Model: the planning prediction, from the scenario's MTTF/MTTR
	// (stationary P_up). ModelRealized: the same equations on the churn
	// these runs realized: each held lookup gets the model's success
	// probability for the tracker nodes up when it was issued (for the
	// server design exactly: some of the n servers up or not; for the DHT
	// designs with P_up = the fraction of tracker nodes up), averaged. In
	// 24 s windows a point sees only a few failures, so which nodes were
	// down together is luck of the schedule; ModelRealized removes that
	// luck and leaves the model's structure to be tested.
	Model         float64 `json:"model"`
	ModelRealized float64 `json:"model_realized"`
	K             int     `json:"k"`
	M             int     `json:"m"`
	Rho           float64 `json:"rho"` // the model's per-node utilisation
	// Delta = Rate − ModelRealized and Pass (the tolerance check) compare
	// with the model on the realized churn; DeltaPlan and PassPlan with the
	// planning prediction (the same rule).
	Delta     float64 `json:"delta"`
	Pass      bool    `json:"pass"`
	DeltaPlan float64 `json:"delta_plan"`
	PassPlan  bool    `json:"pass_plan"`
	// InScope: the model's assumptions hold at this point (decided from the
	// parameters and the model alone, before looking at the measurement;
	// see InScope); OutOfScope says which assumption fails.
	InScope    bool     `json:"in_scope"`
	OutOfScope string   `json:"out_of_scope,omitempty"`
	Reasons    []string `json:"reasons,omitempty"`
}

// Verdict is "PASS" or "FAIL".
func (r PointResult) Verdict() string {
	if r.Pass {
		return "PASS"
	}
	return "FAIL"
}

// aggregate builds the point results of a plan from its runs.
func aggregate(pl Plan, runs []*RunResult, calib map[Design]Calib) ([]PointResult, error) {
	byKey := map[string][]*RunResult{}
	for _, r := range runs {
		k := r.Key + "/" + string(r.Design)
		byKey[k] = append(byKey[k], r)
	}
	var out []PointResult
	for _, pt := range pl.Points() {
		for _, d := range pl.Designs {
			pr := PointResult{Sweep: pt.Sweep, X: pt.X, Design: d, Key: pt.Params.Key(), Outcomes: map[string]int{}}
			var rates, lat []float64
			var avail float64
			byUp := map[int]int{}
			trackers := 0
			for _, r := range byKey[pr.Key+"/"+string(d)] {
				if r.Error != "" {
					pr.Failed++
					continue
				}
				pr.Runs++
				pr.Held += r.Held
				pr.HeldSucceeded += r.HeldSucceeded
				pr.Lookups += r.Lookups
				pr.Succeeded += r.Succeeded
				pr.TrackerKills += r.TrackerKills
				avail += r.TrackerAvail
				for o, n := range r.HeldOutcomes {
					pr.Outcomes[o] += n
				}
				for c, n := range r.HeldByUp {
					byUp[c] += n
				}
				trackers = r.TrackerNodes
				lat = append(lat, r.LatencyMS...)
				if r.Held > 0 {
					rates = append(rates, ratio(r.HeldSucceeded, r.Held))
				}
			}
			pr.Rate = ratio(pr.HeldSucceeded, pr.Held)
			pr.Lo, pr.Hi = Wilson(pr.HeldSucceeded, pr.Held)
			pr.RunMean, pr.RunLo, pr.RunHi, pr.RunCI = TInterval(rates)
			pr.RawRate = ratio(pr.Succeeded, pr.Lookups)
			pr.P50MS, pr.P95MS, pr.P99MS = Percentile(lat, 50), Percentile(lat, 95), Percentile(lat, 99)
			if pr.Runs > 0 {
				pr.TrackerAvail = avail / float64(pr.Runs)
			}
			res, err := Predict(d, pt.Params, calib[d], 0)
			if err != nil {
				return nil, fmt.Errorf("model at %s %s: %w", pr.Key, d, err)
			}
			pr.Model, pr.PUp, pr.K, pr.M, pr.Rho = res.Reliability, res.PUp, res.PathLength, res.Inputs.M, res.Rho
			if d == Server {
				pr.M = res.Inputs.N
			}
			if pr.ModelRealized, err = realized(d, pt.Params, calib[d], res.PQueued, byUp, trackers); err != nil {
				return nil, err
			}
			pr.InScope, pr.OutOfScope = InScope(d, pt.Params, res.Rho, res.PUp)
			within := func(m float64) bool {
				return pr.Held > 0 && pr.Lo <= m+pl.Tolerance && pr.Hi >= m-pl.Tolerance
			}
			pr.Delta, pr.Pass = pr.Rate-pr.ModelRealized, within(pr.ModelRealized)
			pr.DeltaPlan, pr.PassPlan = pr.Rate-pr.Model, within(pr.Model)
			pr.Reasons = reasons(pl, pt.Params, pr)
			out = append(out, pr)
		}
	}
	return out, nil
}

// realized averages the model over the held lookups by the number c of
// the design's T tracker nodes up at issue: for the server design the n
// servers are known nodes, so R = 1 − (1 − P_queued)^c exactly; for the
// DHT designs the replicas of an object are nodes the model does not name,
// so R is the model with P_up = c/T.
func realized(d Design, p Params, c Calib, pq float64, byUp map[int]int, trackers int) (float64, error) {
	var sum float64
	var n int
	for up, k := range byUp {
		var r float64
		switch {
		case up <= 0 || trackers <= 0:
		case d == Server:
			r = -math.Expm1(float64(up) * math.Log1p(-pq))
			if pq >= 1 {
				r = 1
			}
		default:
			res, err := Predict(d, p, c, float64(up)/float64(trackers))
			if err != nil {
				return 0, err
			}
			r = res.Reliability
		}
		sum += r * float64(k)
		n += k
	}
	if n == 0 {
		return 0, nil
	}
	return sum / float64(n), nil
}

// Scope limits: where the model's assumptions hold.
const (
	// MaxScopeRho: utilisation well below saturation, where mapping the
	// lookup timeout to a queue of h = ⌊μT⌋ requests is harmless.
	MaxScopeRho = 0.5
	// MaxScopeRefreshRatio: Refresh ≤ MTTF/4, so the state a node loses in
	// a restart is back (holders re-announce) within a quarter of an up
	// period: the model's "a repaired node is fully up".
	MaxScopeRefreshRatio = 0.25
	// MinScopePUp (DHT designs): failures rare enough that what the DHT
	// model leaves out (re-routing around a failed hop before it is
	// repaired; a real path shorter than the k = ⌈log2 S⌉ bound) moves
	// the prediction by less than the tolerance.
	MinScopePUp = 0.9
)

// InScope decides, from the parameters and the model alone, whether the
// model's assumptions hold for design d at p: ρ ≤ MaxScopeRho, Refresh ≤
// MaxScopeRefreshRatio·MTTF (or no churn), and for the DHT designs P_up ≥
// MinScopePUp (the model's P_up for that design). why names the first
// assumption that fails.
func InScope(d Design, p Params, rho, pup float64) (ok bool, why string) {
	switch {
	case rho > MaxScopeRho:
		return false, fmt.Sprintf("ρ = %.2f > %.1f", rho, MaxScopeRho)
	case p.MTTF > 0 && p.Refresh.Seconds() > MaxScopeRefreshRatio*p.MTTF.Seconds():
		return false, fmt.Sprintf("refresh %s > MTTF/4: state lost in restarts", p.Refresh)
	case d != Server && pup < MinScopePUp-1e-9:
		return false, fmt.Sprintf("DHT with P_up = %.2f < %.1f: re-routing and k bound", pup, MinScopePUp)
	}
	return true, ""
}

// reasons explains a gap between model and measurement from what the runs
// recorded (see docs/results.md for the general discussion).
func reasons(pl Plan, p Params, r PointResult) []string {
	var out []string
	if r.Held == 0 {
		return []string{"no held lookups were measured (all runs failed?)"}
	}
	tol := pl.Tolerance
	failed := r.Held - r.HeldSucceeded
	lost := r.Outcomes[metrics.OutcomeNoHolders] + r.Outcomes[metrics.OutcomeDeadHolders]
	stalled := r.Outcomes[metrics.OutcomeTimeout] + r.Outcomes[metrics.OutcomeError] + r.Outcomes[metrics.OutcomeLate]
	if r.Pass && r.PassPlan {
		return nil
	}
	structural := !r.Pass || math.Abs(r.Delta) > tol
	below := r.Delta < 0
	if structural && below && failed > 0 {
		if lost >= stalled {
			switch r.Design {
			case Overlay:
				out = append(out, fmt.Sprintf("%d of %d failures found no holder: a restarted supernode comes back with an empty record store, the records it held exist only on the other r−1 replicas until the leaf's next refresh (every %s) or failover re-announce; the model has no state loss and no repair/refresh",
					lost, failed, p.Refresh))
			case Server:
				out = append(out, fmt.Sprintf("%d of %d failures found no holder: a restarted opentracker has lost its in-memory state until the holders re-announce (every %s), but the model counts a repaired server as fully up (it ignores repair/refresh)",
					lost, failed, p.Refresh))
			case FlatDHT:
				out = append(out, fmt.Sprintf("%d of %d failures found no holder: provider records on restarted DHT nodes are gone until the holder's next re-Provide (every %s) and the record sits on only k = m closest nodes; the model ignores repair/refresh",
					lost, failed, p.Refresh))
			}
		}
		if stalled > 0 && stalled >= lost {
			switch r.Design {
			case Overlay:
				out = append(out, fmt.Sprintf("%d of %d failures were timeouts/errors: while a leaf's primary supernode is down the leaf needs up to a heartbeat plus the session timeout to fail over, and its lookups fail meanwhile; the model assumes a failed hop is taken over at once by one of its m replicas",
					stalled, failed))
			case Server:
				out = append(out, fmt.Sprintf("%d of %d failures were errors/timeouts: every one of the n trackers was down (connection refused); the effective MTTR includes the process restart", stalled, failed))
			case FlatDHT:
				out = append(out, fmt.Sprintf("%d of %d failures were errors/timeouts: queries stalled on dead routing-table entries (lookup timeout vs dial and query time)", stalled, failed))
			}
		}
	}
	if structural && !below {
		switch r.Design {
		case Overlay:
			out = append(out, fmt.Sprintf("k = ⌈log2 S⌉ = %d is the paper's upper bound on the path; with S ≤ 20 every supernode's routing table holds every other, so a lookup crosses the attach hop (m = %d: primary + backups) and one DHT hop to the r = %d record replicas: k_eff ≈ 2",
				r.K, r.M, r.M))
		case FlatDHT:
			out = append(out, fmt.Sprintf("k = ⌈log2 N⌉ = %d is an upper bound: with N ≤ 20 every routing table holds every node, so one hop reaches the record replicas; and a node that stores the record itself answers from its local provider store", r.K))
		case Server:
			out = append(out, "loopback has no network loss and the servers are far from saturation: a live server answers every request")
		}
	}
	if math.Abs(r.Model-r.ModelRealized) > tol/2 {
		out = append(out, fmt.Sprintf("the planning prediction (%.3f, stationary P_up = %.3f) and the model on the churn these runs realized (%.3f; tracker nodes up %.1f%% of the window) differ: a %s window sees only a few failures, and whether replicas were down together is luck of the schedule",
			r.Model, r.PUp, r.ModelRealized, 100*r.TrackerAvail, p.Duration-p.Warmup))
	}
	return out
}

// outcomeString formats the failure outcomes of held lookups.
func outcomeString(m map[string]int) string {
	var keys []string
	for k, v := range m {
		if k != metrics.OutcomeSuccess && v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", strings.ReplaceAll(k, "_", " "), m[k]))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}
