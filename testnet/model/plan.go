package model

import (
	"fmt"
	"math"
	"math/bits"
)

// PlanVar names the variable a Plan searches over.
type PlanVar string

const (
	// PlanN searches the number of server replicas (server design).
	PlanN PlanVar = "n"
	// PlanM searches the number of replicas per DHT hop (DHT design).
	PlanM PlanVar = "m"
	// PlanSupernodes searches the number of supernodes (DHT design).
	PlanSupernodes PlanVar = "supernodes"
)

// DefaultPlanMax is the search bound used when Plan is given bound ≤ 0.
const DefaultPlanMax = 1 << 20

// PlanResult is the outcome of Plan.
type PlanResult struct {
	Design Design  `json:"design"`
	Var    PlanVar `json:"var"`
	Target float64 `json:"target"`
	// Max is the largest value of Var that was allowed.
	Max int `json:"max"`
	// Reachable reports whether some value ≤ Max reaches Target.
	Reachable bool `json:"reachable"`
	// Value is the smallest value of Var whose reliability is ≥ Target
	// (0 when unreachable).
	Value int `json:"value"`
	// Result is the evaluation at Value, or at BestValue when unreachable.
	Result Result `json:"result"`
	// BestValue and BestReliability are the best value examined and its
	// reliability; when reachable they equal Value and Result.Reliability.
	BestValue       int     `json:"best_value"`
	BestReliability float64 `json:"best_reliability"`
	// Reason explains why the target is unreachable ("" when reachable).
	Reason string `json:"reason,omitempty"`
}

// Plan finds the smallest value of v (n for the server design, m or
// supernodes for the DHT design) up to bound for which the reliability of
// p at its load reaches target (0 < target ≤ 1). The search starts at 1,
// or at max(1, M, K) for supernodes (a DHT needs at least m replicas and k
// hops); m never exceeds p.Supernodes. The other fields of p are kept;
// p.N, p.M or p.Supernodes is ignored as input. bound ≤ 0 selects
// DefaultPlanMax.
//
// If no value works, Plan returns the PlanResult (Reachable false, with
// the best value seen and a Reason) together with an error wrapping
// ErrUnreachable. Invalid input yields an error wrapping ErrInvalidParam.
//
// R_server is non-decreasing in n (more replicas, each less loaded) and
// R_DHT in m (m does not change the per-supernode load), so those are
// binary searches. R_DHT is not monotone in the supernode count when K is
// automatic: more supernodes lower the load but lengthen the path
// k = ⌈log2 S⌉. Within one k it is non-decreasing, so Plan scans k bands in
// order and stops as soon as the no-load bound (1-(1-P_up)^m)^k, which falls
// with k, is below the target.
func Plan(p Params, target float64, v PlanVar, bound int) (PlanResult, error) {
	if math.IsNaN(target) || target <= 0 || target > 1 {
		return PlanResult{}, paramErr("Target", target, "must be a probability in (0,1]")
	}
	if bound <= 0 {
		bound = DefaultPlanMax
	}
	pr := PlanResult{Design: p.Design, Var: v, Target: target, Max: bound}
	switch {
	case v == PlanN && p.Design == Server:
		return planMonotone(p, pr, 1, bound, func(q *Params, x int) { q.N = x },
			"R_server tends to 1 as n grows; raise the bound")
	case v == PlanM && p.Design == DHT:
		hi := min(bound, p.Supernodes)
		why := "raise the bound"
		if p.Supernodes <= bound {
			why = fmt.Sprintf("m cannot exceed the supernode count (%d); add supernodes", p.Supernodes)
		}
		return planMonotone(p, pr, 1, hi, func(q *Params, x int) { q.M = x }, why)
	case v == PlanSupernodes && p.Design == DHT:
		return planSupernodes(p, pr)
	case v != PlanN && v != PlanM && v != PlanSupernodes:
		return pr, paramErr("Var", fmt.Sprintf("%q", string(v)), `must be "n" (server), "m" or "supernodes" (dht)`)
	default:
		if p.Design != Server && p.Design != DHT {
			return pr, p.Validate() // reports the design
		}
		return pr, paramErr("Var", string(v), fmt.Sprintf("cannot be planned for design %q (server: n; dht: m, supernodes)", p.Design))
	}
}

// planMonotone binary-searches x in [lo,hi] for a reliability that is
// non-decreasing in x.
func planMonotone(p Params, pr PlanResult, lo, hi int, set func(*Params, int), why string) (PlanResult, error) {
	eval := func(x int) (Result, error) {
		q := p
		set(&q, x)
		return Evaluate(q)
	}
	// Validate once at the low end so errors name the real culprit.
	if _, err := eval(lo); err != nil {
		return pr, err
	}
	if hi < lo {
		return pr, paramErr("Max", pr.Max, fmt.Sprintf("must be ≥ %d", lo))
	}
	top, err := eval(hi)
	if err != nil {
		return pr, err
	}
	if top.Reliability < pr.Target {
		pr.Result, pr.BestValue, pr.BestReliability = top, hi, top.Reliability
		pr.Reason = fmt.Sprintf("%s = %d gives reliability %.9g < target %g (node reliability %.9g); %s",
			pr.Var, hi, top.Reliability, pr.Target, top.NodeReliability, why)
		return pr, fmt.Errorf("%w: %s", ErrUnreachable, pr.Reason)
	}
	x, res, err := firstReaching(lo, hi, top, eval, pr.Target)
	if err != nil {
		return pr, err
	}
	pr.Reachable, pr.Value, pr.Result = true, x, res
	pr.BestValue, pr.BestReliability = x, res.Reliability
	return pr, nil
}

// firstReaching returns the smallest x in [lo,hi] with eval(x) ≥ target,
// given that eval(hi) = top reaches it and eval is non-decreasing. The
// invariant (eval(lo-1) misses, eval(hi) reaches) makes the answer satisfy
// "x reaches, x-1 misses" even under floating-point wobble.
func firstReaching(lo, hi int, top Result, eval func(int) (Result, error), target float64) (int, Result, error) {
	best := top
	for lo < hi {
		mid := lo + (hi-lo)/2
		r, err := eval(mid)
		if err != nil {
			return 0, Result{}, err
		}
		if r.Reliability >= target {
			hi, best = mid, r
		} else {
			lo = mid + 1
		}
	}
	return hi, best, nil
}

func planSupernodes(p Params, pr PlanResult) (PlanResult, error) {
	lo := max(1, p.M, p.K)
	hi := pr.Max
	set := func(q *Params, x int) { q.Supernodes = x }
	if p.K != 0 {
		// Fixed path length: only the load depends on S, monotone.
		return planMonotone(p, pr, lo, hi, set, "the per-supernode load is already low; raise the bound or m")
	}
	eval := func(x int) (Result, error) {
		q := p
		q.Supernodes = x
		return Evaluate(q)
	}
	if _, err := eval(lo); err != nil {
		return pr, err
	}
	if hi < lo {
		return pr, paramErr("Max", hi, fmt.Sprintf("must be ≥ %d (max(M, K, 1))", lo))
	}
	pr.BestReliability = -1
	for k := PathLength(lo); ; k++ {
		// Band of supernode counts whose automatic path length is k.
		bLo, bHi := 1, 2
		if k > 1 {
			bLo, bHi = 1<<(k-1)+1, math.MaxInt
			if k < bits.UintSize-1 {
				bHi = 1 << k
			}
		}
		bLo, bHi = max(bLo, lo), min(bHi, hi)
		if bLo > bHi {
			break // beyond the bound
		}
		top, err := eval(bHi)
		if err != nil {
			return pr, err
		}
		if top.Reliability > pr.BestReliability {
			pr.Result, pr.BestValue, pr.BestReliability = top, bHi, top.Reliability
		}
		if top.Reliability >= pr.Target {
			x, res, err := firstReaching(bLo, bHi, top, eval, pr.Target)
			if err != nil {
				return pr, err
			}
			pr.Reachable, pr.Value, pr.Result = true, x, res
			pr.BestValue, pr.BestReliability = x, res.Reliability
			return pr, nil
		}
		// Upper bound for this and every longer path: no queueing at all.
		free := p
		free.Supernodes, free.K, free.Lambda = bHi, k, 0
		capRes, err := Evaluate(free)
		if err != nil {
			return pr, err
		}
		if capRes.Reliability < pr.Target {
			pr.Reason = fmt.Sprintf("with m = %d and P_up = %.9g, even an unloaded DHT gives (1-(1-P_up)^m)^k = %.9g < target %g at k = %d, and longer paths (more supernodes) only lower it; best is supernodes = %d with reliability %.9g; raise m or MTTF/MTTR",
				p.M, capRes.PUp, capRes.Reliability, pr.Target, k, pr.BestValue, pr.BestReliability)
			return pr, fmt.Errorf("%w: %s", ErrUnreachable, pr.Reason)
		}
		if bHi == hi {
			break
		}
	}
	pr.Reason = fmt.Sprintf("no supernode count up to %d reaches target %g; best is supernodes = %d with reliability %.9g; raise the bound",
		hi, pr.Target, pr.BestValue, pr.BestReliability)
	return pr, fmt.Errorf("%w: %s", ErrUnreachable, pr.Reason)
}
