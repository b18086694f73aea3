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

	// The model with repair (overlay and flat DHT; see repairmap.go):
	// Repair at the scenario's parameters, RepairRealized with the MTTF
	// that gives the tracker nodes the availability the runs realized.
	// PassRepair: the measured 95% interval overlaps RepairRealized ±
	// RepairTolerance. RepairInScope/RepairOutOfScope: its assumptions
	// (RepairScope); RepairReasons: the measured reason for every
	// in-scope FAIL and every out-of-scope point.
	HasRepair        bool     `json:"has_repair,omitempty"`
	Repair           float64  `json:"repair,omitempty"`
	RepairRecord     float64  `json:"repair_record,omitempty"`
	RepairRealized   float64  `json:"repair_realized,omitempty"`
	RepairMTTF       float64  `json:"repair_realized_mttf_s,omitempty"`
	DeltaRepair      float64  `json:"delta_repair,omitempty"`
	PassRepair       bool     `json:"pass_repair,omitempty"`
	RepairInScope    bool     `json:"repair_in_scope,omitempty"`
	RepairOutOfScope string   `json:"repair_out_of_scope,omitempty"`
	RepairReasons    []string `json:"repair_reasons,omitempty"`
	// Reruns of this point (Report.Reruns), pooled.
	RerunHeld      int `json:"rerun_held,omitempty"`
	RerunSucceeded int `json:"rerun_succeeded,omitempty"`
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
			pr.InScope, pr.OutOfScope = InScope(d, pt.Params, res.Rho, res.Reliability, pl.Tolerance)
			within := func(m float64) bool {
				return pr.Held > 0 && pr.Lo <= m+pl.Tolerance && pr.Hi >= m-pl.Tolerance
			}
			pr.Delta, pr.Pass = pr.Rate-pr.ModelRealized, within(pr.ModelRealized)
			pr.DeltaPlan, pr.PassPlan = pr.Rate-pr.Model, within(pr.Model)
			pr.Reasons = reasons(pl, pt.Params, pr)
			if err := repairPoint(&pr, d, pt.Params, res.PQueued, byUp, pl.MembershipRepair); err != nil {
				return nil, fmt.Errorf("repair model at %s %s: %w", pr.Key, d, err)
			}
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
	// DHT designs: the planning model's failure probability 1 − R must be
	// at most the tolerance (see InScope).
)

// InScope decides, from the parameters and the planning model alone
// (before any measurement), whether the model's assumptions hold for
// design d at p: ρ ≤ MaxScopeRho; Refresh ≤ MaxScopeRefreshRatio·MTTF (or
// no churn); and for the DHT designs 1 − R ≤ tol for the planning
// prediction R. The DHT model has no re-routing around a failed hop
// before it is repaired and counts k = ⌈log2 S⌉ hops in series where, with
// at most 20 DHT nodes (complete routing tables), the real path is one or
// two hops: both can only make lookups succeed more often than it
// predicts, by at most its failure probability 1 − R. So the ±tol claim
// is made where 1 − R ≤ tol, and there it tests that the system is not
// worse than the model. why names the first assumption that fails.
func InScope(d Design, p Params, rho, rel, tol float64) (ok bool, why string) {
	switch {
	case rho > MaxScopeRho:
		return false, fmt.Sprintf("ρ = %.2f > %.1f", rho, MaxScopeRho)
	case p.MTTF > 0 && p.Refresh.Seconds() > MaxScopeRefreshRatio*p.MTTF.Seconds():
		return false, fmt.Sprintf("refresh %s > MTTF/4: state lost in restarts", p.Refresh)
	case d != Server && 1-rel > tol+1e-12:
		return false, fmt.Sprintf("DHT model predicts %.3f < 1 − %.2f: no re-routing, k bound", rel, tol)
	}
	return true, ""
}

// reasons explains a gap between model and measurement from what the runs
// recorded (see docs/results.md for the general discussion).
func reasons(pl Plan, p Params, r PointResult) []string {
	if r.Held == 0 {
		return []string{"no held lookups were measured (all runs failed?)"}
	}
	if r.Pass && r.PassPlan {
		return nil
	}
	var out []string
	tol := pl.Tolerance
	failed := r.Held - r.HeldSucceeded
	lost := r.Outcomes[metrics.OutcomeNoHolders] + r.Outcomes[metrics.OutcomeDeadHolders]
	stalled := r.Outcomes[metrics.OutcomeTimeout] + r.Outcomes[metrics.OutcomeError] + r.Outcomes[metrics.OutcomeLate]
	pct := func(n int) float64 { return 100 * float64(n) / float64(r.Held) }
	if !r.Pass && r.Delta < 0 {
		switch r.Design {
		case Server:
			out = append(out, fmt.Sprintf("%.1f%% of the held lookups failed because all n trackers were down (connection refused), which the model on the realized churn expects (%.1f%%); %.1f%% more found no holder: a restarted opentracker has lost its in-memory state until the holders re-announce (every %s), while the model counts a repaired server as fully up (no state loss, no refresh)",
				pct(stalled), 100*(1-r.ModelRealized), pct(lost), p.Refresh))
		case Overlay:
			if lost > 0 {
				out = append(out, fmt.Sprintf("%d of %d failures found no holder: a restarted supernode comes back with an empty record store and the records return with the leaf's next refresh (every %s) or failover re-announce; the model has no state loss", lost, failed, p.Refresh))
			}
			if stalled > 0 {
				out = append(out, fmt.Sprintf("%d of %d failures were timeouts/errors: a leaf whose primary (and backups) died needs a heartbeat or more to fail over, and its lookups time out meanwhile; the model assumes a hop is served at once by any live one of its m replicas", stalled, failed))
			}
		case FlatDHT:
			if lost > 0 {
				out = append(out, fmt.Sprintf("%d of %d failures found no holder: provider records on restarted DHT nodes are gone until the holder's next re-Provide (every %s); the model has no state loss", lost, failed, p.Refresh))
			}
			if stalled > 0 {
				out = append(out, fmt.Sprintf("%d of %d failures were timeouts/errors: queries stalled on dead routing-table entries", stalled, failed))
			}
		}
	}
	if !r.Pass && r.Delta > 0 {
		switch r.Design {
		case Overlay:
			out = append(out, fmt.Sprintf("the DHT model keeps a failed hop failed for MTTR, but a leaf whose supernode dies re-attaches to another live supernode (any of the S = %d) within seconds and re-announces, so the records move to live supernodes: repair the model leaves out; and k = ⌈log2 S⌉ = %d is the paper's upper bound, while with S ≤ 20 (complete routing tables) a lookup crosses the attach hop and one DHT hop",
				p.Trackers, r.K))
		case FlatDHT:
			out = append(out, fmt.Sprintf("kad-dht routes around dead nodes and a re-Provide puts a record on the m closest live nodes, repair the model leaves out; and k = ⌈log2 N⌉ = %d is an upper bound: with N ≤ 20 every routing table holds every node, so one hop reaches the record replicas (or the local provider store answers)", r.K))
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
