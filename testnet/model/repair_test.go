package model

import (
	"errors"
	"math"
	"testing"
)

func repairBase() RepairParams {
	return RepairParams{Nodes: 1, Replicas: 1, MTTF: 20, MTTR: 5, Refresh: 5, TTL: 15, Persistent: true, Samples: 4000}
}

// One node holding the record in a persistent store whose records outlive
// any down period: the lookup succeeds exactly when the node is up, P_up =
// MTTF/(MTTF+MTTR). (With a short TTL the record can also expire while the
// node is down through every refresh of the last TTL.)
func TestRepairOneNodePersistent(t *testing.T) {
	p := repairBase()
	p.TTL = 64 * p.Refresh
	r, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := 20.0 / 25; math.Abs(r.Reliability-want) > 1e-6 {
		t.Fatalf("reliability %v, want P_up %v", r.Reliability, want)
	}
}

// Without persistence a restart loses the record until the next refresh:
// success = P_up · P(no failure since the last refresh) = P_up·(1−e^{−aR})/(aR)
// for a refresh phase uniform in [0, R).
func TestRepairOneNodeVolatile(t *testing.T) {
	p := repairBase()
	p.Persistent = false
	r, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	a, R := 1/p.MTTF, p.Refresh
	want := 0.8 * (1 - math.Exp(-a*R)) / (a * R)
	if math.Abs(r.Reliability-want) > 0.004 {
		t.Fatalf("reliability %v, want %v", r.Reliability, want)
	}
}

// Repair helps: more replicas, shorter refresh and more holders each raise
// success, and the repaired overlay beats the paper's one-hop model with
// the same availability (which has no re-placement).
func TestRepairMonotone(t *testing.T) {
	base := RepairParams{Nodes: 6, Replicas: 2, MTTF: 10, MTTR: 5, Refresh: 5, TTL: 15, Persistent: true, Samples: 400}
	eval := func(p RepairParams) float64 {
		t.Helper()
		r, err := EvaluateRepair(p)
		if err != nil {
			t.Fatal(err)
		}
		return r.Reliability
	}
	r0 := eval(base)
	more := base
	more.Replicas = 3
	faster := base
	faster.Refresh, faster.TTL = 1, 3
	holders := base
	holders.Holders = []float64{0, 0, 1} // three holders
	for name, r := range map[string]float64{"r=3": eval(more), "refresh 1": eval(faster), "3 holders": eval(holders)} {
		if !(r > r0) {
			t.Errorf("%s: %v not above base %v", name, r, r0)
		}
	}
	res, _ := EvaluateRepair(base)
	if !(res.Reliability > res.NoRepair) {
		t.Errorf("repair %v not above the paper's one-hop model %v", res.Reliability, res.NoRepair)
	}
}

// Immortal nodes: a record that lands on a node that never fails is
// found for good; with every node immortal success is 1.
func TestRepairImmortal(t *testing.T) {
	p := RepairParams{Nodes: 12, Mortal: 0, Replicas: 2, MTTF: 5, MTTR: 5, Refresh: 5, TTL: 30, Samples: 100}
	p.Mortal = 12
	all, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	p.Mortal = 6
	half, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	if !(half.Reliability > all.Reliability) {
		t.Fatalf("half immortal %v not above all mortal %v", half.Reliability, all.Reliability)
	}
	p.MTTF = 1e12 // never fails
	up, err := EvaluateRepair(p)
	if err != nil || up.Reliability < 1-1e-9 {
		t.Fatalf("never failing: %v, %v", up.Reliability, err)
	}
}

// The transient window starts with every node up: its mean availability is
// above the stationary one, and FitMTTF inverts MeanUp.
func TestMeanUpAndFit(t *testing.T) {
	if m := MeanUp(20, 5, 0); math.Abs(m-0.8) > 1e-12 {
		t.Fatalf("stationary %v", m)
	}
	w := MeanUp(20, 5, 24)
	if !(w > 0.8 && w < 1) {
		t.Fatalf("window mean %v", w)
	}
	mttf, err := FitMTTF(5, 24, 0.892)
	if err != nil {
		t.Fatal(err)
	}
	if got := MeanUp(mttf, 5, 24); math.Abs(got-0.892) > 1e-9 {
		t.Fatalf("FitMTTF %v gives %v", mttf, got)
	}
	if _, err := FitMTTF(5, 24, 1); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("availability 1: %v", err)
	}
}

func TestRepairValidate(t *testing.T) {
	bad := []func(*RepairParams){
		func(p *RepairParams) { p.Nodes = 0 },
		func(p *RepairParams) { p.Replicas = 2 },
		func(p *RepairParams) { p.MTTF = math.NaN() },
		func(p *RepairParams) { p.MTTR = -1 },
		func(p *RepairParams) { p.TTL = 1 },
		func(p *RepairParams) { p.Refresh = 0 },
		func(p *RepairParams) { p.Holders = []float64{-1} },
		func(p *RepairParams) { p.Holders = []float64{0, 0} },
		func(p *RepairParams) { p.Mortal = 5 },
		func(p *RepairParams) { p.Window = math.Inf(1) },
	}
	for i, f := range bad {
		p := repairBase()
		f(&p)
		if _, err := EvaluateRepair(p); !errors.Is(err, ErrInvalidParam) {
			t.Errorf("case %d: %v, want ErrInvalidParam", i, err)
		}
	}
}

// Repair on membership change (the record path v2) can only help: it
// re-places a record that some live node still holds.
func TestRepairOnMembershipChange(t *testing.T) {
	p := RepairParams{Nodes: 6, Replicas: 2, MTTF: 10, MTTR: 5, Refresh: 5, TTL: 15, Persistent: true, Samples: 400}
	without, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	p.MembershipRepair = 1
	with, err := EvaluateRepair(p)
	if err != nil {
		t.Fatal(err)
	}
	if !(with.Reliability > without.Reliability) {
		t.Fatalf("membership repair %v not above %v", with.Reliability, without.Reliability)
	}
	p.MembershipRepair = -1
	if _, err := EvaluateRepair(p); !errors.Is(err, ErrInvalidParam) {
		t.Fatalf("negative delay: %v", err)
	}
}
