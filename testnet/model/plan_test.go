package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func evalWith(t *testing.T, p Params, v PlanVar, x int) Result {
	t.Helper()
	switch v {
	case PlanN:
		p.N = x
	case PlanM:
		p.M = x
	case PlanSupernodes:
		p.Supernodes = x
	}
	r, err := Evaluate(p)
	if err != nil {
		t.Fatalf("Evaluate(%s=%d): %v", v, x, err)
	}
	return r
}

// checkSmallest asserts that pr.Value reaches the target and that no
// smaller admissible value does (brute force over [lo, Value-1]).
func checkSmallest(t *testing.T, p Params, pr PlanResult, lo int) {
	t.Helper()
	if !pr.Reachable {
		t.Fatalf("not reachable: %s", pr.Reason)
	}
	if r := evalWith(t, p, pr.Var, pr.Value); r.Reliability < pr.Target {
		t.Fatalf("%s=%d gives %v < target %v", pr.Var, pr.Value, r.Reliability, pr.Target)
	}
	if pr.Result.Reliability < pr.Target || pr.BestValue != pr.Value {
		t.Fatalf("inconsistent result %+v", pr)
	}
	for x := lo; x < pr.Value; x++ {
		if r := evalWith(t, p, pr.Var, x); r.Reliability >= pr.Target {
			t.Fatalf("%s=%d already gives %v ≥ target %v, plan said %d", pr.Var, x, r.Reliability, pr.Target, pr.Value)
		}
	}
}

func TestPlanServerHandComputed(t *testing.T) {
	// Defaults: P_up = 24/25 = 0.96, λ=500, μ=1000, h=100: ρ ≤ 0.5 so
	// P_block ≤ 0.5^100 ≈ 0, Rs = 0.96.
	// n=2: 1 - 0.04² = 0.9984 < 0.999; n=3: 1 - 0.04³ = 0.999936 ≥ 0.999.
	p := DefaultParams()
	p.Design = Server
	pr, err := Plan(p, 0.999, PlanN, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Value != 3 || pr.Max != DefaultPlanMax {
		t.Fatalf("plan = %+v, want n = 3", pr)
	}
	near(t, "reliability", pr.Result.Reliability, 0.999936, 1e-12)
	near(t, "n=2", evalWith(t, p, PlanN, 2).Reliability, 0.9984, 1e-12)

	// Load-driven: λ = 3000, μ = 1000, h = 1. n=1: ρ=3, P_block = 3/4,
	// Rs = 0.96/4 = 0.24. n=3: ρ=1, P_block=1/2, Rs=0.48,
	// R = 1-0.52³ = 0.859392. n=4: ρ=0.75, P_block=0.75/1.75=3/7,
	// Rs=0.96·4/7=0.548571…, R=1-(0.451428…)⁴=0.958469…
	p.Lambda, p.H = 3000, 1
	pr, err = Plan(p, 0.9, PlanN, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Value != 4 {
		t.Fatalf("n = %d, want 4", pr.Value)
	}
	near(t, "n=3", evalWith(t, p, PlanN, 3).Reliability, 1-0.52*0.52*0.52, 1e-12)
	q := 1 - 0.96*4/7
	near(t, "n=4", pr.Result.Reliability, 1-q*q*q*q, 1e-12)
	checkSmallest(t, p, pr, 1)
}

func TestPlanDHTHandComputed(t *testing.T) {
	// Defaults with 8 supernodes, k = 3, λ_p = 500·3/8 = 187.5, ρ=0.1875,
	// P_block ≈ 0, Rp = 0.96. m=4: (1-0.04⁴)³ = 0.99999232… < 0.999999;
	// m=5: (1-0.04⁵)³ = 0.9999996928 ≥ 0.999999.
	p := DefaultParams()
	p.Supernodes = 8
	pr, err := Plan(p, 0.999999, PlanM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Value != 5 {
		t.Fatalf("m = %d, want 5", pr.Value)
	}
	near(t, "m=5", pr.Result.Reliability, math.Pow(1-math.Pow(0.04, 5), 3), 1e-12)
	checkSmallest(t, p, pr, 1)

	// Supernodes, k automatic, m = 3: S ≥ m = 3 so k ≥ 2, and even without
	// load k = 2 gives (1-0.04³)² = 0.999872… < 0.9999; longer paths give
	// less, so 0.9999 is unreachable at any supernode count.
	pr, err = Plan(p, 0.9999, PlanSupernodes, 0)
	if !errors.Is(err, ErrUnreachable) || pr.Reachable {
		t.Fatalf("plan = %+v, err = %v; want unreachable", pr, err)
	}
	// m = 2: S = 2, k = 1, λ_p = 500·1/2 = 250, ρ = 0.25, Rp ≈ 0.96,
	// R = 1-0.04² = 0.9984 ≥ 0.998, and S = 1 is excluded (S ≥ m).
	p.M = 2
	pr, err = Plan(p, 0.998, PlanSupernodes, 0)
	if err != nil || pr.Value != 2 {
		t.Fatalf("plan = %+v, err = %v; want S = 2", pr, err)
	}
	checkSmallest(t, p, pr, 2)
}

func TestPlanSupernodesLoadDriven(t *testing.T) {
	// Heavy load: small DHTs are overloaded, so the plan must grow S until
	// the per-supernode load drops, although k grows with S.
	p := DefaultParams()
	p.Lambda, p.Mu, p.H, p.M, p.MTTF, p.MTTR = 1e5, 1000, 20, 3, 1000, 1
	pr, err := Plan(p, 0.999, PlanSupernodes, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkSmallest(t, p, pr, p.M)
	if pr.Value < 100 {
		t.Errorf("S = %d, expected the load to require ≥ 100 supernodes", pr.Value)
	}
	if pr.Result.Rho >= 1 {
		t.Errorf("planned DHT still overloaded: ρ = %v", pr.Result.Rho)
	}
}

func TestPlanSmallestRandom(t *testing.T) {
	// Against a brute-force scan, including the non-monotone supernode case.
	rng := rand.New(rand.NewPCG(7, 11))
	const bound = 400
	found := map[PlanVar]int{}
	for i := 0; i < 400; i++ {
		p := randParams(rng)
		p.K = 0
		p.MTTR = p.MTTF * math.Exp(-rng.Float64()*8)
		target := 1 - math.Exp(-rng.Float64()*12)
		for _, v := range []PlanVar{PlanN, PlanM, PlanSupernodes} {
			q := p
			q.Design = DHT
			lo := 1
			switch v {
			case PlanN:
				q.Design = Server
			case PlanM:
				q.Supernodes = max(q.Supernodes, 16)
			case PlanSupernodes:
				q.M = 1 + rng.IntN(4)
				lo = q.M
			}
			pr, err := Plan(q, target, v, bound)
			if errors.Is(err, ErrUnreachable) {
				// Nothing in range may reach it.
				hi := bound
				if v == PlanM {
					hi = min(bound, q.Supernodes)
				}
				for x := lo; x <= hi; x++ {
					if r := evalWith(t, q, v, x); r.Reliability >= target {
						t.Fatalf("%s: unreachable (%s) but %d gives %v ≥ %v", v, pr.Reason, x, r.Reliability, target)
					}
				}
				if pr.Reason == "" || pr.Reachable || pr.Value != 0 {
					t.Fatalf("unreachable result malformed: %+v", pr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			checkSmallest(t, q, pr, lo)
			found[v]++
		}
	}
	for _, v := range []PlanVar{PlanN, PlanM, PlanSupernodes} {
		if found[v] < 20 {
			t.Errorf("only %d reachable %s plans exercised", found[v], v)
		}
	}
}

func TestPlanUnreachable(t *testing.T) {
	// DHT, m = 1: R_DHT ≤ P_up^k ≤ P_up = 0.96 for any supernode count; the
	// no-load cap stops the search at the first band.
	p := DefaultParams()
	p.M = 1
	pr, err := Plan(p, 0.99, PlanSupernodes, 0)
	if !errors.Is(err, ErrUnreachable) || pr.Reachable || !strings.Contains(pr.Reason, "unloaded") {
		t.Fatalf("plan = %+v, err = %v", pr, err)
	}
	near(t, "best", pr.BestReliability, 0.96, 1e-12)

	// m bounded by the supernode count: with 4 supernodes, k=2,
	// (1-0.04⁴)² = 0.999994880… < 0.9999999.
	p = DefaultParams()
	p.Supernodes = 4
	pr, err = Plan(p, 0.9999999, PlanM, 0)
	if !errors.Is(err, ErrUnreachable) || pr.BestValue != 4 || !strings.Contains(pr.Reason, "supernode count") {
		t.Fatalf("plan = %+v, err = %v", pr, err)
	}

	// Server bounded by --plan-max: n=2 gives 0.9984 < 0.999.
	p.Design = Server
	pr, err = Plan(p, 0.999, PlanN, 2)
	if !errors.Is(err, ErrUnreachable) || pr.BestValue != 2 {
		t.Fatalf("plan = %+v, err = %v", pr, err)
	}
	near(t, "best", pr.BestReliability, 0.9984, 1e-12)
}

func TestPlanInvalid(t *testing.T) {
	p := DefaultParams()
	for _, target := range []float64{0, -1, 1.5, math.NaN(), math.Inf(1)} {
		if _, err := Plan(p, target, PlanSupernodes, 0); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("target %v: err = %v", target, err)
		}
	}
	if _, err := Plan(p, 0.9, PlanN, 0); !errors.Is(err, ErrInvalidParam) {
		t.Error("n accepted for the DHT design")
	}
	if _, err := Plan(p, 0.9, "bogus", 0); !errors.Is(err, ErrInvalidParam) {
		t.Error("bogus var accepted")
	}
	p.MTTF = math.NaN()
	var pe *ParamError
	if _, err := Plan(p, 0.9, PlanSupernodes, 0); !errors.As(err, &pe) || pe.Field != "MTTF" {
		t.Errorf("NaN MTTF: err = %v", err)
	}
	p = DefaultParams()
	p.Design = ""
	if _, err := Plan(p, 0.9, PlanN, 0); !errors.As(err, &pe) || pe.Field != "Design" {
		t.Errorf("empty design: err = %v", err)
	}
	// Max below the smallest admissible supernode count (M = 3).
	p = DefaultParams()
	if _, err := Plan(p, 0.9, PlanSupernodes, 2); !errors.Is(err, ErrInvalidParam) {
		t.Errorf("bound below M: err = %v", err)
	}
}

func TestPlanHugeBound(t *testing.T) {
	// MTTR = 0 (P_up = 1, so the no-load cap never stops the search) and an
	// enormous load: h = 1, m = 1, R = (1/(1+ρ))^k ≥ 0.5 needs ρ ≲ ln2/k,
	// i.e. S ≈ λ·k²/(μ·ln 2). λ = 1e15 → S near 2^62 (k = 62 or 63).
	p := DefaultParams()
	p.M, p.H, p.MTTR, p.Mu, p.Lambda = 1, 1, 0, 1, 1e15
	pr, err := Plan(p, 0.5, PlanSupernodes, math.MaxInt)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Value < 1<<61 {
		t.Fatalf("S = %d, want ≥ 2^61", pr.Value)
	}
	if r := evalWith(t, p, PlanSupernodes, pr.Value-1); r.Reliability >= 0.5 {
		t.Fatalf("S-1 = %d already reaches: %v", pr.Value-1, r.Reliability)
	}
	// λ = 1e17 needs S beyond MaxInt: every band up to k = 63 is tried
	// and the search ends without overflowing 1<<k.
	p.Lambda = 1e17
	pr, err = Plan(p, 0.5, PlanSupernodes, math.MaxInt)
	if !errors.Is(err, ErrUnreachable) || pr.BestValue != math.MaxInt {
		t.Fatalf("plan = %+v, err = %v", pr, err)
	}
	p.Design = Server
	if _, err := Plan(p, 0.5, PlanN, math.MaxInt); err != nil {
		t.Fatal(err)
	}
}
