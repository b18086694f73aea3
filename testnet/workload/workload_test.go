package workload

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/scenario"
)

func builtin(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func mustGen(t *testing.T, sc *scenario.Scenario, seed uint64) *Schedule {
	t.Helper()
	s, err := Generate(sc, seed)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// custom returns a scenario with nodes identical nodes, no churn and the
// given rates, duration d and warmup 0.
func custom(nodes int, d time.Duration, announce, lookup float64) *scenario.Scenario {
	return &scenario.Scenario{
		Name: "custom", Seed: 1, Duration: scenario.D(d), NodeCount: nodes,
		Profiles: []scenario.Profile{{Name: "p", Count: nodes, UploadBps: 1, MTTF: scenario.None(), MTTR: scenario.None(), Role: "auto"}},
		Objects:  10, Zipf: scenario.Zipf{S: 1, V: 1},
		AnnounceRate: announce, LookupRate: lookup, LookupTimeout: scenario.D(time.Second),
		Election:  scenario.Election{MinUptime: "1s", MinUpload: "0", MaxLeaves: "1"},
		MaxEvents: scenario.HardMaxEvents,
	}
}

func TestDeterministic(t *testing.T) {
	for _, name := range scenario.BuiltinNames() {
		sc := builtin(t, name)
		a := mustGen(t, sc, 42).MarshalJSONL()
		b := mustGen(t, builtin(t, name), 42).MarshalJSONL()
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: same seed gave different schedules", name)
		}
		c := mustGen(t, sc, 43).MarshalJSONL()
		if bytes.Equal(a, c) {
			t.Fatalf("%s: different seeds gave the same schedule", name)
		}
		// Pin the first bytes so that accidental changes of the generator show up.
		if !bytes.HasPrefix(a, []byte(`{"v":1,"format":"supertracker-schedule","scenario":"`+name+`"`)) {
			t.Fatalf("unexpected header: %.100s", a)
		}
	}
}

func TestBuiltinSchedules(t *testing.T) {
	for _, name := range scenario.BuiltinNames() {
		sc := builtin(t, name)
		s := mustGen(t, sc, sc.Seed)
		if s.Header.Ops != len(s.Ops) || s.Header.Ops > sc.EffectiveMaxEvents() {
			t.Fatalf("%s: %d ops", name, len(s.Ops))
		}
		c := s.Header.Counts
		if c[Lookup] == 0 || c[Announce] == 0 || c[Kill] == 0 || c[Restart] == 0 || c[KillSupernode] == 0 {
			t.Fatalf("%s: missing op kinds: %v", name, c)
		}
		checkInvariants(t, sc, s)
		// Round trip through JSONL.
		back, err := ReadSchedule(bytes.NewReader(s.MarshalJSONL()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(back.MarshalJSONL(), s.MarshalJSONL()) {
			t.Fatalf("%s: round trip differs", name)
		}
	}
}

// checkInvariants: time order and bounds, ids, refs, alternating
// kill/restart per node, and no announce/lookup on a node that is down.
func checkInvariants(t *testing.T, sc *scenario.Scenario, s *Schedule) {
	t.Helper()
	down := make([]bool, sc.NodeCount)
	specs := sc.NodeSpecs()
	for i, op := range s.Ops {
		if op.ID != uint64(i+1) || op.At < 0 || op.At >= sc.Duration.Duration || (i > 0 && op.At < s.Ops[i-1].At) {
			t.Fatalf("op %d out of order or bounds: %+v", i, op)
		}
		switch op.Kind {
		case Announce, Lookup:
			if down[op.Node] {
				t.Fatalf("op on a down node: %+v", op)
			}
			if op.At >= sc.Warmup.Duration && op.Cause == CauseInitial || op.At < sc.Warmup.Duration && op.Cause != CauseInitial {
				t.Fatalf("initial announce outside warmup or vice versa: %+v", op)
			}
		case Kill:
			if down[op.Node] {
				t.Fatalf("kill of a down node: %+v", op)
			}
			if op.Cause == CauseChurn && specs[op.Node].MTTF.IsNone() {
				t.Fatalf("churn kill of a node without MTTF: %+v", op)
			}
			if op.At < sc.Warmup.Duration {
				t.Fatalf("kill during warmup: %+v", op)
			}
			down[op.Node] = true
		case Restart:
			if op.Node == -1 {
				if s.Ops[op.Ref-1].Kind != KillSupernode || op.At-s.Ops[op.Ref-1].At != sc.Churn.Targeted.RestartAfter.Duration {
					t.Fatalf("bad targeted restart: %+v", op)
				}
				continue
			}
			if !down[op.Node] {
				t.Fatalf("restart of an up node: %+v", op)
			}
			down[op.Node] = false
		case MassFailure:
			up := 0
			for _, d := range down {
				if !d {
					up++
				}
			}
			want := int(math.Ceil(sc.Churn.MassFailure.Fraction * float64(up)))
			if len(op.Nodes) != want {
				t.Fatalf("mass failure of %d nodes, want %d of %d up", len(op.Nodes), want, up)
			}
			for j, n := range op.Nodes { // victims' kills follow immediately
				k := s.Ops[i+1+j]
				if k.Kind != Kill || k.Node != n || k.At != op.At || k.Cause != CauseMassFailure {
					t.Fatalf("mass failure victim %d: next op %+v", n, k)
				}
			}
		}
	}
}

func TestChurnStatistics(t *testing.T) {
	sc := custom(10, 2000*time.Second, 0, 0)
	sc.Profiles[0].MTTF = scenario.D(5 * time.Second)
	sc.Profiles[0].MTTR = scenario.D(2 * time.Second)
	sc.Churn.Enabled = true
	sc.Churn.MassFailure = &scenario.MassFailure{At: scenario.D(1000 * time.Second), Fraction: 0.5, RestartAfter: scenario.D(time.Second)}
	s := mustGen(t, sc, 9)
	checkInvariants(t, sc, s)
	killedAt := map[int]time.Duration{}
	restartedAt := map[int]time.Duration{0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0, 9: 0}
	var up, down []float64
	for _, op := range s.Ops {
		switch {
		case op.Kind == Kill && op.Cause == CauseChurn:
			up = append(up, (op.At - restartedAt[op.Node]).Seconds())
			killedAt[op.Node] = op.At
		case op.Kind == Kill:
			killedAt[op.Node] = op.At
		case op.Kind == Restart && op.Cause == CauseChurn:
			down = append(down, (op.At - killedAt[op.Node]).Seconds())
			restartedAt[op.Node] = op.At
		case op.Kind == Restart:
			restartedAt[op.Node] = op.At
		}
	}
	// ~2860 up periods: the sample mean is within a few percent of MTTF
	// (the first period of each node and those cut by the mass failure are
	// slightly biased, well inside the tolerance).
	if m := mean(up); math.Abs(m-5)/5 > 0.06 || len(up) < 2000 {
		t.Fatalf("mean up time %.3f s over %d periods, want ≈ 5 s", m, len(up))
	}
	if m := mean(down); math.Abs(m-2)/2 > 0.06 {
		t.Fatalf("mean down time %.3f s over %d periods, want ≈ 2 s", m, len(down))
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestPoissonInterArrival(t *testing.T) {
	const rate = 50.0
	sc := custom(5, 1000*time.Second, 0, rate)
	s := mustGen(t, sc, 7)
	var times []float64
	for _, op := range s.Ops {
		if op.Kind == Lookup {
			times = append(times, op.At.Seconds())
		}
	}
	n := float64(len(times))
	// Count ~ Poisson(50000): sd 224.
	if math.Abs(n-rate*1000) > 1500 {
		t.Fatalf("%v lookups, want ≈ %v", n, rate*1000)
	}
	var gaps []float64
	prev := 0.0
	for _, x := range times {
		gaps = append(gaps, x-prev)
		prev = x
	}
	m := mean(gaps)
	// Mean inter-arrival 1/λ = 20 ms; its standard error is 0.45%.
	if math.Abs(m-1/rate)*rate > 0.02 {
		t.Fatalf("mean inter-arrival %.5f s, want %.5f ± 2%%", m, 1/rate)
	}
	// Exponential: standard deviation equals the mean.
	v := 0.0
	for _, g := range gaps {
		v += (g - m) * (g - m)
	}
	if cv := math.Sqrt(v/n) / m; math.Abs(cv-1) > 0.03 {
		t.Fatalf("coefficient of variation %.3f, want ≈ 1", cv)
	}
}

func TestZipfRankOrdered(t *testing.T) {
	const k, n = 10, 500_000
	z, err := NewZipfSampler(k, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, k)
	for range n {
		counts[z.Sample(r)]++
	}
	total := 0.0
	for i := range k {
		total += 1 / float64(1+i)
	}
	for i := range k {
		if i > 0 && counts[i] >= counts[i-1] {
			t.Fatalf("counts not rank-ordered: %v", counts)
		}
		want := 1 / float64(1+i) / total
		if p := z.P(i); math.Abs(p-want) > 1e-12 {
			t.Fatalf("P(%d) = %v, want %v", i, p, want)
		}
		if got := float64(counts[i]) / n; math.Abs(got-want)/want > 0.03 {
			t.Fatalf("frequency of rank %d = %.4f, want %.4f", i, got, want)
		}
	}
	// s = 0 is uniform; s < 1 (which math/rand's Zipf rejects) works.
	if _, err := NewZipfSampler(5, 0.8, 1); err != nil {
		t.Fatal(err)
	}
	u, _ := NewZipfSampler(4, 0, 1)
	for i := range 4 {
		if u.P(i) != 0.25 {
			t.Fatalf("uniform P(%d) = %v", i, u.P(i))
		}
	}
	for _, bad := range [][3]float64{{0, 1, 1}, {3, -1, 1}, {3, 1, 0.5}, {3, math.NaN(), 1}} {
		if _, err := NewZipfSampler(int(bad[0]), bad[1], bad[2]); err == nil {
			t.Fatalf("NewZipfSampler%v accepted", bad)
		}
	}
	// In a generated schedule the lookups follow the same order at the top.
	sc := custom(5, 2000*time.Second, 0, 50)
	lc := make([]int, sc.Objects)
	for _, op := range mustGen(t, sc, 3).Ops {
		lc[op.Object]++
	}
	if !(lc[0] > lc[1] && lc[1] > lc[2] && lc[2] > lc[3]) {
		t.Fatalf("schedule lookups per object not rank-ordered: %v", lc)
	}
}

func TestEventCap(t *testing.T) {
	sc := custom(5, 100*time.Second, 1, 10) // ≈ 1100 ops
	sc.MaxEvents = 500
	if _, err := Generate(sc, 1); !errors.Is(err, ErrTooManyEvents) {
		t.Fatalf("cap 500: %v", err)
	}
	sc.MaxEvents = 2000
	s, err := Generate(sc, 1)
	if err != nil || len(s.Ops) > 2000 {
		t.Fatalf("cap 2000: %v", err)
	}
	// The initial announces count too.
	sc.Warmup = scenario.D(time.Second)
	sc.InitialHolders = 5
	sc.Objects = 1000
	if _, err := Generate(sc, 1); !errors.Is(err, ErrTooManyEvents) {
		t.Fatalf("initial announces over the cap: %v", err)
	}
	// Invalid scenarios are refused.
	sc.LookupRate = -1
	if _, err := Generate(sc, 1); !errors.Is(err, scenario.ErrInvalidScenario) {
		t.Fatalf("invalid scenario: %v", err)
	}
}

func TestStreamsIndependent(t *testing.T) {
	sc := builtin(t, "default")
	a := mustGen(t, sc, 5)
	sc.LookupRate *= 2
	sc.AnnounceRate = 0
	b := mustGen(t, sc, 5)
	churn := func(s *Schedule) (out []Op) {
		for _, op := range s.Ops {
			if op.Kind != Announce && op.Kind != Lookup {
				op.ID, op.Ref = 0, 0
				out = append(out, op)
			}
		}
		return out
	}
	ca, cb := churn(a), churn(b)
	if len(ca) == 0 || !slices.EqualFunc(ca, cb, func(x, y Op) bool {
		return x.At == y.At && x.Kind == y.Kind && x.Node == y.Node && x.Index == y.Index && slices.Equal(x.Nodes, y.Nodes)
	}) {
		t.Fatal("changing the workload rates changed the churn schedule")
	}
}

func TestTargetedRateAndNoChurn(t *testing.T) {
	sc := custom(4, 1000*time.Second, 0, 0)
	sc.Churn.Enabled = true
	sc.Churn.Targeted = scenario.Targeted{Rate: 0.05, RestartAfter: scenario.None()}
	s := mustGen(t, sc, 1)
	if n := s.Header.Counts[KillSupernode]; n < 30 || n > 70 || s.Header.Counts[Restart] != 0 {
		t.Fatalf("counts %v, want ≈ 50 targeted kills, no restarts", s.Header.Counts)
	}
	sc.Churn.Enabled = false
	if s := mustGen(t, sc, 1); len(s.Ops) != 0 {
		t.Fatalf("churn disabled but %d ops", len(s.Ops))
	}
}

func TestReadScheduleErrors(t *testing.T) {
	good := string(mustGen(t, builtin(t, "smoke"), 1).MarshalJSONL())
	lines := strings.SplitAfter(good, "\n")
	cases := map[string]string{
		"empty":       "",
		"bad header":  `{"v":2}` + "\n",
		"unknown":     strings.Replace(good, `"kind":"lookup"`, `"kind":"dance"`, 1),
		"extra field": strings.Replace(good, `"cause":"initial"`, `"cause":"initial","x":1`, 1),
		"count":       strings.Join(lines[:len(lines)-2], ""),
		"order":       lines[0] + lines[2] + lines[1] + strings.Join(lines[3:], ""),
		"node":        strings.Replace(good, `"node":0,"object"`, `"node":99,"object"`, 1),
	}
	for name, in := range cases {
		if _, err := ReadSchedule(strings.NewReader(in)); !errors.Is(err, ErrInvalidSchedule) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestObjectCID(t *testing.T) {
	a, b := ObjectCID(0), ObjectCID(1)
	if a.Equals(b) || a.Version() != 1 || a.Type() != 0x55 || !a.Equals(ObjectCID(0)) {
		t.Fatalf("bad CIDs %v %v", a, b)
	}
	if ObjectName(7) != "supertracker-testnet/object/7" {
		t.Fatal(ObjectName(7))
	}
}
