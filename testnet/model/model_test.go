package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.17g, want %.17g (±%g)", name, got, want, tol)
	}
}

func nearRel(t *testing.T, name string, got, want, rel float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > rel*math.Abs(want) {
		t.Errorf("%s = %.17g, want %.17g (rel ±%g)", name, got, want, rel)
	}
}

func TestPBlockHandComputed(t *testing.T) {
	cases := []struct {
		name string
		rho  float64
		h    int
		want float64
	}{
		// ρ = 0: nothing ever arrives, nothing is blocked.
		{"rho=0", 0, 5, 0},
		// h = 1: (ρ - ρ²)/(1 - ρ²) = ρ/(1+ρ); ρ=0.5 → 0.5/1.5 = 1/3.
		{"h=1 rho=0.5", 0.5, 1, 1.0 / 3},
		// h = 1, ρ = 3 → 3/4.
		{"h=1 rho=3", 3, 1, 0.75},
		// h = 1, ρ = 1 → 1/(h+1) = 1/2.
		{"h=1 rho=1", 1, 1, 0.5},
		// ρ=0.5, h=2: (0.25 - 0.125)/(1 - 0.125) = 0.125/0.875 = 1/7.
		{"rho=0.5 h=2", 0.5, 2, 1.0 / 7},
		// ρ=2, h=2: (4 - 8)/(1 - 8) = -4/-7 = 4/7.
		{"rho=2 h=2", 2, 2, 4.0 / 7},
		// ρ=1 exactly: 0/0 in the formula; the limit is 1/(h+1) = 1/5.
		{"rho=1 h=4", 1, 4, 0.2},
		// ρ>1, large h: ρ^h(ρ-1)/(ρ^(h+1)-1) → (ρ-1)/ρ = 1 - 1/2 = 0.5
		// (2^1001 overflows a naive evaluation).
		{"rho=2 h=1000", 2, 1000, 0.5},
		// ρ=10, h=100000: → 1 - 1/10 = 0.9.
		{"rho=10 h=1e5", 10, 100000, 0.9},
		// ρ<1, huge h: → 0.
		{"rho=0.9 h=1e9", 0.9, 1_000_000_000, 0},
		// ρ tiny, h=1: ρ/(1+ρ) ≈ 1e-300.
		{"rho=1e-300 h=1", 1e-300, 1, 1e-300},
	}
	for _, c := range cases {
		got, err := PBlock(c.rho, c.h)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		near(t, c.name, got, c.want, 1e-15)
	}
	// Exactly 1/(h+1) at ρ=1, no rounding detour.
	for _, h := range []int{1, 2, 7, 1000, math.MaxInt} {
		got, _ := PBlock(1, h)
		if got != 1/(float64(h)+1) {
			t.Errorf("PBlock(1,%d) = %v, want exactly 1/(h+1)", h, got)
		}
	}
}

func TestPBlockNearOne(t *testing.T) {
	// Reference values from 60-digit decimal arithmetic of
	// (ρ^h - ρ^(h+1))/(1 - ρ^(h+1)). A naive float64 evaluation loses most
	// digits here (1 - ρ^(h+1) cancels).
	cases := []struct {
		rho  float64
		h    int
		want float64
	}{
		{0.999999999, 10, 0.090909090454545455},
		{1.000000001, 10, 0.090909091363636368},
		{0.999999999, 1000000, 9.9949908383391482e-07},
		{1.000000001, 1000000, 1.0004990828339156e-06},
		{0.9999, 100000, 4.5379292939835114e-09},
		{1.0001, 100000, 9.9994542561241572e-05},
		{0.5, 1000, 4.6663180925160944e-302}, // 2^-1001 / (1 - 2^-1001)
	}
	for _, c := range cases {
		got, err := PBlock(c.rho, c.h)
		if err != nil {
			t.Fatal(err)
		}
		nearRel(t, "PBlock", got, c.want, 1e-8)
	}
	// Continuity across ρ = 1 from both sides, and the first-order slope
	// h/(2(h+1)): P(1±ε) ≈ 1/(h+1) ± ε·h/(2(h+1)).
	for _, h := range []int{1, 3, 100} {
		base := 1 / float64(h+1)
		slope := float64(h) / (2 * float64(h+1))
		for _, eps := range []float64{1e-6, 1e-9, 1e-12, 0x1p-52} {
			lo, _ := PBlock(1-eps, h)
			hi, _ := PBlock(1+eps, h)
			near(t, "PBlock(1-ε)", lo, base-eps*slope, 1e-11)
			near(t, "PBlock(1+ε)", hi, base+eps*slope, 1e-11)
			if !(lo <= base && base <= hi) {
				t.Errorf("h=%d ε=%g: PBlock not monotone across 1: %v %v %v", h, eps, lo, base, hi)
			}
		}
	}
}

func TestPBlockMonotoneInRho(t *testing.T) {
	for _, h := range []int{1, 2, 10, 1000, 1 << 40} {
		prev := -1.0
		for i := 0; i <= 4000; i++ {
			rho := float64(i) / 1000 // 0 .. 4, through 1 exactly
			p, err := PBlock(rho, h)
			if err != nil {
				t.Fatal(err)
			}
			if p < 0 || p > 1 {
				t.Fatalf("PBlock(%v,%d) = %v outside [0,1]", rho, h, p)
			}
			if p < prev-1e-15 {
				t.Fatalf("PBlock not monotone at ρ=%v h=%d: %v < %v", rho, h, p, prev)
			}
			prev = p
		}
	}
}

func TestPUp(t *testing.T) {
	// MTTF 9, MTTR 1: 9/10.
	got, err := PUp(9, 1)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "PUp(9,1)", got, 0.9, 1e-16)
	// MTTR = 0: always up.
	got, _ = PUp(1, 0)
	near(t, "PUp(1,0)", got, 1, 0)
	// MTTF+MTTR overflows float64; the ratio is still 1/2.
	got, _ = PUp(1e308, 1e308)
	near(t, "PUp(1e308,1e308)", got, 0.5, 1e-16)
	for _, c := range [][2]float64{{0, 1}, {-1, 1}, {math.NaN(), 1}, {math.Inf(1), 1}, {1, -1}, {1, math.NaN()}, {1, math.Inf(1)}} {
		if _, err := PUp(c[0], c[1]); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("PUp(%v,%v) err = %v, want ErrInvalidParam", c[0], c[1], err)
		}
	}
}

func TestServerAndDHTEquations(t *testing.T) {
	srv := []struct {
		rs   float64
		n    int
		want float64
	}{
		{0.9, 2, 0.99},           // 1 - 0.1² = 0.99
		{0.5, 3, 0.875},          // 1 - 0.5³ = 0.875
		{0.9, 1, 0.9},            // n = 1 is the node itself
		{0, 5, 0},                // dead nodes stay dead
		{1, 1, 1},                // perfect node
		{0.01, 10000, 1},         // 1 - 0.99^10000 = 1 - 2.2e-44 → 1
		{1e-6, 1_000_000_000, 1}, // 1 - e^(1e9·ln(1-1e-6)) = 1 - e^-1000.0005 → 1
		{0.3, math.MaxInt, 1},    // large-n limit is 1 whenever Rs > 0
	}
	for _, c := range srv {
		got, err := ServerReliability(c.rs, c.n)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "ServerReliability", got, c.want, 1e-15)
	}
	dht := []struct {
		rp   float64
		m, k int
		want float64
	}{
		{0.9, 1, 1, 0.9},                  // m = k = 1: the node itself
		{0.9, 2, 3, 0.970299},             // (1 - 0.1²)³ = 0.99³ = 0.970299
		{0.5, 1, 4, 0.0625},               // 0.5⁴
		{0.5, 3, 1, 0.875},                // 1 - 0.5³
		{0.96, 3, 6, 0.99961606143475728}, // (1 - 0.04³)⁶ = 0.999936⁶
		{1, 1, 1000, 1},
		{0, 7, 1, 0},
	}
	for _, c := range dht {
		got, err := DHTReliability(c.rp, c.m, c.k)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "DHTReliability", got, c.want, 1e-15)
	}
	for _, bad := range []float64{-0.1, 1.1, math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := ServerReliability(bad, 1); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("ServerReliability(%v) err = %v", bad, err)
		}
		if _, err := DHTReliability(bad, 1, 1); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("DHTReliability(%v) err = %v", bad, err)
		}
	}
	if _, err := ServerReliability(0.5, 0); !errors.Is(err, ErrInvalidParam) {
		t.Error("n = 0 accepted")
	}
	if _, err := DHTReliability(0.5, 0, 1); !errors.Is(err, ErrInvalidParam) {
		t.Error("m = 0 accepted")
	}
	if _, err := DHTReliability(0.5, 1, 0); !errors.Is(err, ErrInvalidParam) {
		t.Error("k = 0 accepted")
	}
	if _, err := PBlock(0.5, 0); !errors.Is(err, ErrInvalidParam) {
		t.Error("h = 0 accepted")
	}
	if _, err := PBlock(math.Inf(1), 1); !errors.Is(err, ErrInvalidParam) {
		t.Error("ρ = Inf accepted")
	}
}

func TestPathLength(t *testing.T) {
	// ⌈log2 S⌉, at least 1.
	want := map[int]int{0: 0, -3: 0, 1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 8: 3, 9: 4, 64: 6, 65: 7, 1024: 10, 1025: 11, math.MaxInt: 63}
	for s, k := range want {
		if got := PathLength(s); got != k {
			t.Errorf("PathLength(%d) = %d, want %d", s, got, k)
		}
	}
}

func serverParams() Params {
	return Params{Design: Server, N: 2, MTTF: 9, MTTR: 1, Lambda: 1, Mu: 1, H: 2}
}

func dhtParams() Params {
	return Params{Design: DHT, M: 2, Supernodes: 4, MTTF: 9, MTTR: 1, Lambda: 4, Mu: 3, H: 1}
}

func TestEvaluateServer(t *testing.T) {
	// P_up = 9/(9+1) = 0.9; ρ = 1/(2·1) = 0.5; P_block(0.5, 2) = 1/7;
	// Rs = 0.9·6/7 = 5.4/7 = 0.771428...; R = 1 - (1.6/7)² = 1 - 2.56/49 = 46.44/49.
	r, err := Evaluate(serverParams())
	if err != nil {
		t.Fatal(err)
	}
	near(t, "rho", r.Rho, 0.5, 0)
	near(t, "node_lambda", r.NodeLambda, 0.5, 0)
	near(t, "p_up", r.PUp, 0.9, 1e-16)
	near(t, "p_block", r.PBlock, 1.0/7, 1e-16)
	near(t, "p_queued", r.PQueued, 6.0/7, 1e-15)
	near(t, "node_reliability", r.NodeReliability, 5.4/7, 1e-15)
	near(t, "reliability", r.Reliability, 46.44/49, 1e-15)
	near(t, "unreliability", r.Unreliability, 2.56/49, 1e-15)

	// ρ = 1 exactly: λ=2, n=2, μ=1; h=3 → P_block = 1/4;
	// Rs = 0.9·0.75 = 0.675; R = 1 - 0.325² = 1 - 0.105625 = 0.894375.
	p := serverParams()
	p.Lambda, p.H = 2, 3
	r, _ = Evaluate(p)
	near(t, "rho", r.Rho, 1, 0)
	near(t, "p_block", r.PBlock, 0.25, 0)
	near(t, "reliability", r.Reliability, 0.894375, 1e-15)

	// ρ = 0 (no load): Rs = P_up = 0.9; R = 1 - 0.1² = 0.99.
	p.Lambda = 0
	r, _ = Evaluate(p)
	near(t, "p_block", r.PBlock, 0, 0)
	near(t, "reliability", r.Reliability, 0.99, 1e-15)

	// Heavy overload, h = 1: λ=1000, n=1, μ=1 → ρ=1000, P_block = 1000/1001;
	// Rs = 0.9/1001.
	p = serverParams()
	p.N, p.Lambda, p.H = 1, 1000, 1
	r, _ = Evaluate(p)
	near(t, "reliability", r.Reliability, 0.9/1001, 1e-15)

	// Large-n limit: R_server → 1 (ρ → 0, Rs → P_up > 0).
	p = serverParams()
	p.N = 1 << 40
	r, _ = Evaluate(p)
	near(t, "reliability(n=2^40)", r.Reliability, 1, 0)
	if r.Unreliability != 0 {
		t.Errorf("unreliability(n=2^40) = %v, want 0 (0.1^(2^40) underflows)", r.Unreliability)
	}
}

func TestEvaluateDHT(t *testing.T) {
	// S = 4 → k = ⌈log2 4⌉ = 2; msgs = k = 2; λ_p = 4·2/4 = 2; ρ = 2/3;
	// h = 1: P_block = ρ/(1+ρ) = (2/3)/(5/3) = 0.4; Rp = 0.9·0.6 = 0.54;
	// hop = 1 - 0.46² = 1 - 0.2116 = 0.7884; R = 0.7884² = 0.62157456.
	r, err := Evaluate(dhtParams())
	if err != nil {
		t.Fatal(err)
	}
	if r.PathLength != 2 || r.MsgsPerLookup != 2 {
		t.Errorf("k, msgs = %d, %v; want 2, 2", r.PathLength, r.MsgsPerLookup)
	}
	near(t, "node_lambda", r.NodeLambda, 2, 0)
	near(t, "rho", r.Rho, 2.0/3, 1e-16)
	near(t, "p_block", r.PBlock, 0.4, 1e-15)
	near(t, "node_reliability", r.NodeReliability, 0.54, 1e-15)
	near(t, "reliability", r.Reliability, 0.62157456, 1e-15)
	near(t, "unreliability", r.Unreliability, 1-0.62157456, 1e-15)

	// LookupMsgs = 1: λ_p = 4·1/4 = 1, ρ = 1/3, P_block = (1/3)/(4/3) = 0.25,
	// Rp = 0.9·0.75 = 0.675; hop = 1 - 0.325² = 0.894375; R = 0.894375².
	p := dhtParams()
	p.LookupMsgs = 1
	r, _ = Evaluate(p)
	near(t, "p_block", r.PBlock, 0.25, 1e-15)
	near(t, "reliability", r.Reliability, 0.894375*0.894375, 1e-15)

	// k = 1, m = 1: R_DHT = Rp. λ=0 → Rp = P_up = 0.9.
	p = dhtParams()
	p.K, p.M, p.Lambda = 1, 1, 0
	r, _ = Evaluate(p)
	near(t, "reliability(k=1,m=1)", r.Reliability, 0.9, 1e-16)

	// Explicit K overrides the default: K=4, m=1, λ=0 → 0.9⁴ = 0.6561.
	p.K = 4
	r, _ = Evaluate(p)
	if r.PathLength != 4 {
		t.Errorf("PathLength = %d, want 4", r.PathLength)
	}
	near(t, "reliability(k=4,m=1)", r.Reliability, 0.6561, 1e-15)

	// One supernode: k = max(1, ⌈log2 1⌉) = 1, so R = Rp (not Rp⁰ = 1).
	p = dhtParams()
	p.Supernodes, p.M, p.Lambda = 1, 1, 0
	r, _ = Evaluate(p)
	near(t, "reliability(S=1)", r.Reliability, 0.9, 1e-16)
}

func TestUnreliabilityPrecision(t *testing.T) {
	// MTTF 1e12, MTTR 1, no load: q = 1/(1e12+1); server n=3 fails with
	// q³ ≈ 1e-36, which 1 - R could never show.
	p := Params{Design: Server, N: 3, MTTF: 1e12, MTTR: 1, Lambda: 0, Mu: 1, H: 1}
	r, err := Evaluate(p)
	if err != nil {
		t.Fatal(err)
	}
	q := 1 / (1e12 + 1)
	nearRel(t, "unreliability", r.Unreliability, q*q*q, 1e-9)
	if r.Reliability != 1 {
		t.Errorf("reliability = %v, want 1 (rounded)", r.Reliability)
	}
	// DHT, m=2, k=8: 1 - (1-q²)^8 ≈ 8q².
	p = Params{Design: DHT, M: 2, K: 8, Supernodes: 256, MTTF: 1e12, MTTR: 1, Mu: 1, H: 1}
	r, _ = Evaluate(p)
	nearRel(t, "unreliability", r.Unreliability, 8*q*q, 1e-9)
}

func TestValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	cases := []struct {
		field string
		mut   func(*Params)
	}{
		{"Design", func(p *Params) { p.Design = "" }},
		{"Design", func(p *Params) { p.Design = "p2p" }},
		{"MTTF", func(p *Params) { p.MTTF = 0 }},
		{"MTTF", func(p *Params) { p.MTTF = -1 }},
		{"MTTF", func(p *Params) { p.MTTF = nan }},
		{"MTTF", func(p *Params) { p.MTTF = inf }},
		{"MTTR", func(p *Params) { p.MTTR = -1 }},
		{"MTTR", func(p *Params) { p.MTTR = inf }},
		{"MTTR", func(p *Params) { p.MTTR = nan }},
		{"Lambda", func(p *Params) { p.Lambda = -1 }},
		{"Lambda", func(p *Params) { p.Lambda = nan }},
		{"Lambda", func(p *Params) { p.Lambda = math.Inf(-1) }},
		{"Mu", func(p *Params) { p.Mu = 0 }},
		{"Mu", func(p *Params) { p.Mu = inf }},
		{"H", func(p *Params) { p.H = 0 }},
		{"H", func(p *Params) { p.H = -5 }},
		{"N", func(p *Params) { p.Design = Server; p.N = 0 }},
		{"N", func(p *Params) { p.Design = Server; p.N = -1 }},
		{"Supernodes", func(p *Params) { p.Supernodes = 0 }},
		{"M", func(p *Params) { p.M = 0 }},
		{"M", func(p *Params) { p.M = 65 }},
		{"K", func(p *Params) { p.K = -1 }},
		{"K", func(p *Params) { p.K = 65 }},
		{"LookupMsgs", func(p *Params) { p.LookupMsgs = -1 }},
		{"LookupMsgs", func(p *Params) { p.LookupMsgs = nan }},
		{"LookupMsgs", func(p *Params) { p.Design = Server; p.LookupMsgs = inf }}, // checked for both designs
	}
	for _, c := range cases {
		p := DefaultParams()
		c.mut(&p)
		_, err := Evaluate(p)
		var pe *ParamError
		if !errors.Is(err, ErrInvalidParam) || !errors.As(err, &pe) || pe.Field != c.field {
			t.Errorf("%s: err = %v, want *ParamError for %s", c.field, err, c.field)
		}
	}
	// Server ignores DHT-only fields and vice versa.
	p := DefaultParams()
	p.Design, p.M, p.Supernodes = Server, 0, 0
	if _, err := Evaluate(p); err != nil {
		t.Errorf("server with zero DHT fields: %v", err)
	}
	p = DefaultParams()
	p.N = 0
	if _, err := Evaluate(p); err != nil {
		t.Errorf("dht with zero N: %v", err)
	}
	if err := DefaultParams().Validate(); err != nil {
		t.Errorf("defaults invalid: %v", err)
	}
}

func TestOverflowStaysFinite(t *testing.T) {
	// λ huge, μ subnormal: ρ overflows; P_block must be 1 and the result
	// must stay finite and in [0,1].
	for _, d := range []Design{Server, DHT} {
		p := DefaultParams()
		p.Design, p.Lambda, p.Mu = d, 1e308, 5e-324
		r, err := Evaluate(p)
		if err != nil {
			t.Fatal(err)
		}
		if r.PBlock != 1 || r.Reliability != 0 || math.IsInf(r.Rho, 0) || math.IsInf(r.NodeLambda, 0) {
			t.Errorf("%s: overflowed result %+v", d, r)
		}
	}
}

// randParams returns valid parameters drawn from wide ranges.
func randParams(rng *rand.Rand) Params {
	logU := func(lo, hi float64) float64 {
		return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo)))
	}
	s := 1 + rng.IntN(2000)
	return Params{
		N:          1 + rng.IntN(20),
		M:          1 + rng.IntN(min(s, 10)),
		K:          rng.IntN(min(s, 12) + 1),
		Supernodes: s,
		LookupMsgs: float64(rng.IntN(3)) * logU(0.5, 20),
		MTTF:       logU(1e-3, 1e6),
		MTTR:       logU(1e-3, 1e3),
		Lambda:     logU(1e-3, 1e7) * float64(rng.IntN(8)) / 4,
		Mu:         logU(1e-2, 1e5),
		H:          1 + rng.IntN(500),
	}
}

func mustEval(t *testing.T, p Params, d Design) Result {
	t.Helper()
	p.Design = d
	r, err := Evaluate(p)
	if err != nil {
		t.Fatalf("Evaluate(%+v): %v", p, err)
	}
	if !(r.Reliability >= 0 && r.Reliability <= 1 && r.NodeReliability >= 0 && r.NodeReliability <= 1 &&
		r.Unreliability >= 0 && r.Unreliability <= 1 && r.PUp >= 0 && r.PUp <= 1 &&
		r.PQueued >= 0 && r.PQueued <= 1 && r.PBlock >= 0 && r.PBlock <= 1) {
		t.Fatalf("probability outside [0,1]: %+v", r)
	}
	if math.Abs(r.Reliability+r.Unreliability-1) > 1e-12 {
		t.Fatalf("R + U = %v", r.Reliability+r.Unreliability)
	}
	return r
}

const slack = 1e-12 // floating-point tolerance for monotonicity

func TestPropertiesMonotone(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		p := randParams(rng)
		srv := mustEval(t, p, Server)
		dht := mustEval(t, p, DHT)

		// R_server non-decreasing in n.
		q := p
		q.N++
		if r := mustEval(t, q, Server); r.Reliability < srv.Reliability-slack {
			t.Fatalf("R_server decreased with n: %v → %v (%+v)", srv.Reliability, r.Reliability, p)
		}
		// R_DHT non-decreasing in m.
		if p.M < p.Supernodes {
			q = p
			q.M++
			if r := mustEval(t, q, DHT); r.Reliability < dht.Reliability-slack {
				t.Fatalf("R_DHT decreased with m: %v → %v (%+v)", dht.Reliability, r.Reliability, p)
			}
		}
		// R_DHT non-increasing in k (explicit k, fixed message count so
		// that only the path length changes).
		if p.K >= 1 && p.K < p.Supernodes {
			q = p
			q.LookupMsgs = max(p.LookupMsgs, 1)
			a := mustEval(t, q, DHT)
			q.K++
			if b := mustEval(t, q, DHT); b.Reliability > a.Reliability+slack {
				t.Fatalf("R_DHT increased with k: %v → %v (%+v)", a.Reliability, b.Reliability, q)
			}
		}
		// With k = LookupMsgs = default, a longer path also loads nodes
		// more: still non-increasing.
		if p.K >= 1 && p.K < p.Supernodes {
			q = p
			q.LookupMsgs = 0
			a := mustEval(t, q, DHT)
			q.K++
			if b := mustEval(t, q, DHT); b.Reliability > a.Reliability+slack {
				t.Fatalf("R_DHT increased with k (auto msgs): %v → %v", a.Reliability, b.Reliability)
			}
		}
		// Both non-decreasing in MTTF.
		q = p
		q.MTTF *= 1 + rng.Float64()*10
		if r := mustEval(t, q, Server); r.Reliability < srv.Reliability-slack {
			t.Fatalf("R_server decreased with MTTF: %v → %v", srv.Reliability, r.Reliability)
		}
		if r := mustEval(t, q, DHT); r.Reliability < dht.Reliability-slack {
			t.Fatalf("R_DHT decreased with MTTF: %v → %v", dht.Reliability, r.Reliability)
		}
		// Both non-increasing in MTTR.
		q = p
		q.MTTR *= 1 + rng.Float64()*10
		if r := mustEval(t, q, Server); r.Reliability > srv.Reliability+slack {
			t.Fatalf("R_server increased with MTTR")
		}
		if r := mustEval(t, q, DHT); r.Reliability > dht.Reliability+slack {
			t.Fatalf("R_DHT increased with MTTR")
		}
		// Both non-increasing in λ.
		q = p
		q.Lambda = p.Lambda*(1+rng.Float64()*10) + rng.Float64()
		if r := mustEval(t, q, Server); r.Reliability > srv.Reliability+slack {
			t.Fatalf("R_server increased with λ: %v → %v (%+v)", srv.Reliability, r.Reliability, p)
		}
		if r := mustEval(t, q, DHT); r.Reliability > dht.Reliability+slack {
			t.Fatalf("R_DHT increased with λ: %v → %v (%+v)", dht.Reliability, r.Reliability, p)
		}
		// Both non-decreasing in μ and h.
		q = p
		q.Mu *= 1 + rng.Float64()*10
		q.H += rng.IntN(50)
		if r := mustEval(t, q, Server); r.Reliability < srv.Reliability-slack {
			t.Fatalf("R_server decreased with μ/h")
		}
		if r := mustEval(t, q, DHT); r.Reliability < dht.Reliability-slack {
			t.Fatalf("R_DHT decreased with μ/h")
		}
		// Node reliability never exceeds P_up, and the design never beats
		// its best case: R_server ≤ 1 - (1-P_up)^n.
		if srv.NodeReliability > srv.PUp || dht.NodeReliability > dht.PUp {
			t.Fatalf("node reliability above P_up")
		}
	}
}
