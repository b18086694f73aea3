package sweep

import (
	"math"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/model"
	"github.com/supertracker/supertracker/testnet/scenario"
	"github.com/supertracker/supertracker/testnet/workload"
)

// scheduledKills counts churn kills of nodes 0..n-1 in sc's schedule.
func scheduledKills(t *testing.T, sc *scenario.Scenario, seed uint64, n int) int {
	t.Helper()
	s, err := workload.Generate(sc, seed)
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, op := range s.Ops {
		if op.Kind == workload.Kill && op.Node < n {
			k++
		}
	}
	return k
}

func TestPlansValid(t *testing.T) {
	for _, pl := range []Plan{FullPlan(), QuickPlan()} {
		if err := pl.Validate(); err != nil {
			t.Fatalf("%s: %v", pl.Name, err)
		}
		for _, p := range pl.UniqueParams() {
			sc, err := p.Scenario()
			if err != nil {
				t.Fatal(err)
			}
			// The JSON round trip through the scenario parser holds.
			back, err := scenario.Parse(sc.Canonical())
			if err != nil {
				t.Fatalf("%s: %v", p.Key(), err)
			}
			if back.Hash() != sc.Hash() {
				t.Errorf("%s: scenario changed in a JSON round trip", p.Key())
			}
			if sc.NodeCount > 16 {
				t.Errorf("%s: %d nodes", p.Key(), sc.NodeCount)
			}
			if d := sc.Duration.Duration; d < 8*time.Second || d > 40*time.Second {
				t.Errorf("%s: duration %s", p.Key(), d)
			}
		}
	}
	full := FullPlan()
	if n := len(full.UniqueParams()); n != 9 {
		t.Errorf("full plan: %d distinct points, want 9 (sweeps share the base point)", n)
	}
	q := QuickPlan()
	if len(q.Points()) != 2 || len(q.Seeds) != 1 || len(q.Designs) != 3 {
		t.Errorf("quick plan is not 2 points × 1 run × 3 designs")
	}
}

func TestSameScheduleAcrossSweepValues(t *testing.T) {
	// Changing λ leaves the churn schedule unchanged (independent streams),
	// so the load sweep's points share their churn.
	pl := FullPlan()
	kills := func(p Params) []time.Duration {
		sc, err := p.Scenario()
		if err != nil {
			t.Fatal(err)
		}
		s, err := workload.Generate(sc, 1)
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Duration
		for _, op := range s.Ops {
			if op.Kind == workload.Kill || op.Kind == workload.Restart {
				out = append(out, op.At)
			}
		}
		return out
	}
	a := kills(pl.Sweeps[0].Apply(pl.Base, 5))
	b := kills(pl.Sweeps[0].Apply(pl.Base, 80))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("churn differs: %d vs %d kills/restarts", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("churn op %d at %s vs %s", i, a[i], b[i])
		}
	}
}

func TestWilson(t *testing.T) {
	lo, hi := Wilson(0, 0)
	if lo != 0 || hi != 1 {
		t.Errorf("Wilson(0,0) = %v, %v", lo, hi)
	}
	// Reference values (Wilson score interval, z = 1.96).
	lo, hi = Wilson(81, 263)
	if math.Abs(lo-0.2553) > 5e-4 || math.Abs(hi-0.3662) > 5e-4 {
		t.Errorf("Wilson(81,263) = %.4f, %.4f", lo, hi)
	}
	lo, hi = Wilson(10, 10)
	if hi != 1 || math.Abs(lo-0.7225) > 5e-4 {
		t.Errorf("Wilson(10,10) = %.4f, %.4f", lo, hi)
	}
}

func TestTInterval(t *testing.T) {
	m, lo, hi, ok := TInterval([]float64{0.9, 1.0})
	if !ok || m != 0.95 || math.Abs((hi-lo)/2-12.706*math.Sqrt(0.005)/math.Sqrt(2)) > 1e-9 {
		t.Errorf("TInterval = %v %v %v %v", m, lo, hi, ok)
	}
	if _, _, _, ok := TInterval([]float64{1}); ok {
		t.Error("one value gave an interval")
	}
}

func TestModelMapping(t *testing.T) {
	p := FullPlan().Base // S=6, peers 6, MTTF 20 s, MTTR 5 s, m=2, λ=20
	c := Calib{Mu: 1000}
	// Overlay: DHT over S supernodes, k = ⌈log2 6⌉ = 3, P_up = 0.8.
	r, err := Predict(Overlay, p, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := math.Pow(1-0.2*0.2, 3)
	if r.Design != model.DHT || r.PathLength != 3 || math.Abs(r.PUp-0.8) > 1e-12 || math.Abs(r.Reliability-want) > 1e-6 {
		t.Errorf("overlay: %+v, want R %v", r, want)
	}
	// Server: n = m = 2, every server sees every request.
	r, err = Predict(Server, p, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Inputs.N != 2 || math.Abs(r.NodeLambda-(p.LookupRate+p.AnnounceRate)) > 1e-9 || math.Abs(r.Reliability-(1-0.04)) > 1e-6 {
		t.Errorf("server: %+v", r)
	}
	// Flat DHT: N = 12 nodes, node-averaged P_up = (6·0.8 + 6)/12 = 0.9.
	c.RPCsPerLookup = 7
	r, err = Predict(FlatDHT, p, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.Inputs.Supernodes != 12 || r.PathLength != 4 || math.Abs(r.PUp-0.9) > 1e-12 || r.MsgsPerLookup != 7 {
		t.Errorf("flatdht: %+v", r)
	}
	// Measured availability overrides P_up; no churn gives 1.
	r, _ = Predict(Server, p, c, 0.5)
	if math.Abs(r.PUp-0.5) > 1e-12 {
		t.Errorf("avail override: P_up %v", r.PUp)
	}
	p.MTTF = 0
	r, _ = Predict(Overlay, p, c, 0)
	if r.PUp != 1 || r.Reliability != 1 {
		t.Errorf("no churn: %+v", r)
	}
}

func TestAggregatePassFail(t *testing.T) {
	pl := QuickPlan()
	pl.Designs = []Design{Server}
	pts := pl.Points()
	calib := map[Design]Calib{Server: {Mu: 10000}}
	// Run 1 matches the model on its realized churn (both servers always
	// up: R = 1); run 2 fails 3 in 4 lookups with both servers up.
	runs := []*RunResult{
		{Key: pts[0].Params.Key(), Design: Server, Held: 400, HeldSucceeded: 399, HeldOutcomes: map[string]int{}, HeldByUp: map[int]int{2: 400}, TrackerNodes: 2},
		{Key: pts[1].Params.Key(), Design: Server, Held: 400, HeldSucceeded: 100, HeldOutcomes: map[string]int{"no_holders": 300}, HeldByUp: map[int]int{2: 400}, TrackerNodes: 2},
	}
	out, err := aggregate(pl, runs, calib)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || !out[0].Pass || out[1].Pass {
		t.Fatalf("verdicts: %+v", out)
	}
	if len(out[1].Reasons) == 0 {
		t.Error("a failing point got no reason")
	}
	if out[0].ModelRealized != 1 {
		t.Errorf("realized model %v, want 1", out[0].ModelRealized)
	}
}

func TestRealized(t *testing.T) {
	p := FullPlan().Base
	c := Calib{Mu: 1000}
	// Server: exactly "some server up".
	r, err := realized(Server, p, c, 1, map[int]int{0: 10, 1: 30, 2: 60}, 2)
	if err != nil || math.Abs(r-0.9) > 1e-12 {
		t.Errorf("server realized %v, %v", r, err)
	}
	// DHT: the model at P_up = up/T; all up gives 1, none up 0.
	r, _ = realized(Overlay, p, c, 1, map[int]int{6: 1}, 6)
	r0, _ := realized(Overlay, p, c, 1, map[int]int{0: 1}, 6)
	r5, _ := realized(Overlay, p, c, 1, map[int]int{5: 1}, 6)
	want, _ := Predict(Overlay, p, c, 5.0/6)
	if math.Abs(r-1) > 1e-9 || r0 != 0 || math.Abs(r5-want.Reliability) > 1e-12 {
		t.Errorf("overlay realized %v %v %v", r, r0, r5)
	}
}

func TestInScope(t *testing.T) {
	p := FullPlan().Base // refresh 5 s, MTTF 20 s
	if ok, why := InScope(Server, p, 0.01, 0.96, 0.05); !ok {
		t.Errorf("server at the base point out of scope: %s", why)
	}
	if ok, _ := InScope(Overlay, p, 0.01, 0.885, 0.05); ok {
		t.Error("a DHT point predicting 0.885 is in scope")
	}
	if ok, _ := InScope(FlatDHT, p, 0.01, 0.96, 0.05); !ok {
		t.Error("a DHT point predicting 0.96 is out of scope")
	}
	if ok, _ := InScope(Server, p, 0.7, 0.96, 0.05); ok {
		t.Error("ρ = 0.7 in scope")
	}
	p.MTTF = 10 * time.Second // refresh 5 s > MTTF/4
	if ok, _ := InScope(Server, p, 0.01, 0.96, 0.05); ok {
		t.Error("refresh > MTTF/4 in scope")
	}
	p.MTTF = 0 // no churn
	if ok, _ := InScope(Server, p, 0.01, 1, 0.05); !ok {
		t.Error("no churn out of scope")
	}
}
