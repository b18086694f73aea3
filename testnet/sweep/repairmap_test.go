package sweep

import (
	"math"
	"testing"
	"time"
)

// The holder distribution of looked-up objects is a distribution over ≥ 1
// holders, and more announces mean more holders.
func TestHolderDist(t *testing.T) {
	p := FullPlan().Base
	w, err := holderDist(p)
	if err != nil {
		t.Fatal(err)
	}
	mean := func(w []float64) float64 {
		var s, m float64
		for i, x := range w {
			s += x
			m += float64(i+1) * x
		}
		return m / s
	}
	var sum float64
	for _, x := range w {
		if x < 0 {
			t.Fatalf("negative weight %v", x)
		}
		sum += x
	}
	if sum <= 0 || sum > 1+1e-9 {
		t.Fatalf("weights sum to %v", sum)
	}
	busy := p
	busy.AnnounceRate *= 10
	wb, _ := holderDist(busy)
	if !(mean(wb) > mean(w)) {
		t.Fatalf("mean holders %v with 10× announces, %v without", mean(wb), mean(w))
	}
}

// The scope rule: the overlay's failover assumption fails below the
// leaves' backoff; more than 20 DHT nodes are out of scope.
func TestRepairScope(t *testing.T) {
	p := FullPlan().Base
	if ok, _ := RepairScope(Overlay, p, 0.01); !ok {
		t.Fatal("base point out of scope")
	}
	p.MTTF = 5 * time.Second
	if ok, why := RepairScope(Overlay, p, 0.01); ok || why == "" {
		t.Fatal("MTTF 5 s in scope for the overlay")
	}
	if ok, _ := RepairScope(FlatDHT, p, 0.01); !ok {
		t.Fatal("MTTF 5 s out of scope for the flat DHT")
	}
	p.Peers = 30
	if ok, _ := RepairScope(FlatDHT, p, 0.01); ok {
		t.Fatal("36 DHT nodes in scope")
	}
}

// repairPoint: a point with every lookup failing while supernodes were
// down is far from the model and gets measured reasons.
func TestRepairPoint(t *testing.T) {
	p := FullPlan().Base
	pr := PointResult{Design: Overlay, Held: 100, HeldSucceeded: 70, Outcomes: map[string]int{"success": 70, "timeout": 30}, TrackerAvail: 0.9}
	pr.Rate = 0.7
	pr.Lo, pr.Hi = Wilson(70, 100)
	if err := repairPoint(&pr, Overlay, p, 1, map[int]int{5: 60, 6: 40}, time.Second); err != nil {
		t.Fatal(err)
	}
	if !pr.HasRepair || pr.PassRepair || len(pr.RepairReasons) == 0 || !(pr.RepairRealized > 0.99) {
		t.Fatalf("%+v", pr)
	}
	if math.Abs(pr.DeltaRepair-(0.7-pr.RepairRealized)) > 1e-12 {
		t.Fatalf("delta %v", pr.DeltaRepair)
	}
	srv := PointResult{}
	if err := repairPoint(&srv, Server, p, 1, nil, 0); err != nil || srv.HasRepair {
		t.Fatalf("server: %v %v", srv.HasRepair, err)
	}
}
