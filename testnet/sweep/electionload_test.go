package sweep

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The model behind the load figure: the fixed-n servers saturate as N
// grows while the overlay's supernode count follows the load and keeps
// its success; the plan and its scenarios are valid.
func TestLoadPlanModel(t *testing.T) {
	pl := DefaultLoadPlan()
	if err := pl.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, n := range pl.Peers {
		for _, d := range pl.Designs {
			if _, err := pl.scenarioFor(n, d); err != nil {
				t.Fatalf("N=%d %s: %v", n, d, err)
			}
		}
	}
	first, last := float64(pl.Peers[0]), float64(pl.Peers[len(pl.Peers)-1])
	s0, _ := pl.Model(Server, first, 0)
	s1, _ := pl.Model(Server, last, 0)
	o1, _ := pl.Model(Overlay, last, 0)
	if !(s0.Reliability > 0.99 && s1.Reliability < 0.99) {
		t.Fatalf("server model %v → %v: want ≥ 0.99 falling below", s0.Reliability, s1.Reliability)
	}
	if o1.Reliability < 0.999 {
		t.Fatalf("overlay model at N=%g: %v < 0.999", last, o1.Reliability)
	}
	if !(pl.ModelTrackers(last) > pl.ModelTrackers(first)) {
		t.Fatalf("S(N) does not grow: %v → %v", pl.ModelTrackers(first), pl.ModelTrackers(last))
	}
	// The election's band at N = 40 (λ' = 1.5·(40 − S), μ = 16): promote
	// at ρ ≥ 0.8 (S = 4: 0.84), demote at ρ ≤ 0.3 (S = 10: 0.28).
	if lo, hi := pl.ModelTrackers(40), pl.ModelTrackersMax(40); lo != 5 || hi != 9 {
		t.Fatalf("N=40: band [%v, %v], want [5, 9]", lo, hi)
	}
	for s := pl.ModelTrackers(40); s <= pl.ModelTrackersMax(40); s++ {
		if pl.overlaySurplus(40, s) || pl.overlayRho(40, s) >= 0.8 {
			t.Fatalf("N=40, S=%v inside the band but the election would act", s)
		}
	}
	bad := pl
	bad.Peers = []int{2}
	if bad.Validate() == nil {
		t.Fatal("N = 2 accepted")
	}
}

// The outputs render from pooled runs (figure, json, markdown with the
// claim line).
func TestLoadOutputs(t *testing.T) {
	pl := DefaultLoadPlan()
	var runs []*LoadRun
	for _, n := range pl.Peers {
		for _, d := range pl.Designs {
			r := &LoadRun{Design: d, Peers: n, Held: 1000, HeldSucceeded: 1000, Outcomes: map[string]int{"success": 1000},
				TrackersMean: 2, RhoMean: 0.3}
			if d == Server && n >= 24 {
				r.HeldSucceeded, r.Outcomes = 800, map[string]int{"success": 800, "timeout": 200}
			}
			if d == Overlay {
				r.TrackersMean = pl.ModelTrackers(float64(n))
			}
			runs = append(runs, r)
		}
	}
	pts, err := loadPoints(pl, runs)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if d := os.Getenv("LOAD_FIG_DIR"); d != "" {
		dir = d
	}
	rep := &LoadReport{Plan: pl, Runs: runs, Points: pts, Command: "test"}
	o := LoadOptions{Plan: pl, Figures: dir, Markdown: filepath.Join(dir, "load.md")}
	if err := writeLoadOutputs(o, rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{LoadJSON, LoadFigure, "load.md"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, "load.md"))
	if !strings.Contains(string(md), "falls below 0.99: **true**") || !strings.Contains(string(md), "stays ≥ 0.999 at every N: **true**") {
		t.Fatalf("claim line missing:\n%s", md)
	}
}

// --reuse reads a stored run of the same plan and does not run it again; a
// run stored by another plan is not reused, and with --peers leaving its N
// out it is reported missing rather than run.
func TestLoadReuse(t *testing.T) {
	pl := DefaultLoadPlan()
	work := t.TempDir()
	dir := loadRunDir(work, 24, 1, Server)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stored := &LoadRun{Design: Server, Peers: 24, Seed: 1, Dir: dir, Held: 10, HeldSucceeded: 9, PlanKey: pl.key()}
	b, _ := json.Marshal(stored)
	if err := os.WriteFile(filepath.Join(dir, ResultFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	o := LoadOptions{Plan: pl, Work: work, Reuse: true, Only: []int{40}}
	lr, err := reuseOrRunLoad(t.Context(), o, 24, 1, Server)
	if err != nil || lr.Held != 10 || lr.HeldSucceeded != 9 {
		t.Fatalf("stored run not reused: %+v, %v", lr, err)
	}
	other := pl
	other.Mu = 20
	o.Plan = other
	if lr, err := reuseOrRunLoad(t.Context(), o, 24, 1, Server); err == nil || lr.Held != 0 {
		t.Fatalf("a run of another plan was reused: %+v", lr)
	}
}
