package model

import (
	"errors"
	"math"
	"testing"
)

// ElectedResidual against a direct numerical integration of
// ∫_u^∞ (x−u) S(x) dx / ∫_u^∞ S(x) dx for the BitTorrent fit.
func TestElectedResidual(t *testing.T) {
	k, l, u := 0.38, 42.4*60.0, 7200.0
	surv := func(x float64) float64 { return math.Exp(-math.Pow(x/l, k)) }
	var num, den float64
	const steps = 200000
	lo, hi := math.Log(u), math.Log(1e10)
	prev := u
	for i := 1; i <= steps; i++ {
		x := math.Exp(lo + (hi-lo)*float64(i)/steps)
		dx := x - prev
		mid := (x + prev) / 2
		num += (mid - u) * surv(mid) * dx
		den += surv(mid) * dx
		prev = x
	}
	want := num / den
	if got := ElectedResidual(k, l, u); math.Abs(got-want)/want > 1e-3 {
		t.Fatalf("ElectedResidual %v s, numerical %v s", got, want)
	}
	// Heavy tails: the elected live far longer than the mean session.
	if got := ElectedResidual(k, l, u); got < 5*l*math.Gamma(1+1/k) {
		t.Fatalf("elected residual %v not ≫ mean session", got)
	}
}

// The plan follows the election's fill for 1000 peers (63 supernodes, as
// testnet/scale derives), reaches the target, and scales linearly.
func TestPlanCapacity(t *testing.T) {
	p := DefaultCapacityParams()
	p.Peers, p.Objects = 1000, 2000
	pl, err := PlanCapacity(p)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Supernodes != 63 || pl.ByFill != 63 || !pl.Reachable || pl.Reliability < p.Target {
		t.Fatalf("plan %+v", pl)
	}
	// Fewer holders per object → more replicas needed for the same target.
	sparse := p
	sparse.Objects = 200000
	sp, err := PlanCapacity(sparse)
	if err != nil || sp.Replicas < pl.Replicas {
		t.Fatalf("sparse objects: r %d vs %d (%v)", sp.Replicas, pl.Replicas, err)
	}
	big := p
	big.Peers, big.Objects = 1000000, 2000000
	bp, err := PlanCapacity(big)
	if err != nil {
		t.Fatal(err)
	}
	if r := float64(bp.Supernodes) / float64(pl.Supernodes); math.Abs(r-1000) > 20 {
		t.Fatalf("supernodes %d → %d: not linear", pl.Supernodes, bp.Supernodes)
	}
	// OneHop: membership events grow with S, so per-supernode bandwidth grows.
	if !(Total(bp.SupernodeBps) > Total(pl.SupernodeBps)) {
		t.Fatalf("bandwidth %v not above %v", Total(bp.SupernodeBps), Total(pl.SupernodeBps))
	}
	// A target the churn cannot reach with r ≤ 8 is reported, not hidden.
	hard := p
	hard.Target, hard.SupernodeMTTF, hard.ReplaceTime = 0.999999999, 60, 3600
	hp, err := PlanCapacity(hard)
	if err != nil || hp.Reachable {
		t.Fatalf("hard target: reachable %v, %v", hp.Reachable, err)
	}
	if _, err := PlanCapacity(CapacityParams{}); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("empty params: %v", err)
	}
}
