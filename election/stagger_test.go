package election

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// staggerRun simulates an overlay with one fixed supernode ("sn-0") and 20
// eligible leaves with different scores. From t0 the overlay carries
// load 2.5 (in units of one supernode's service rate) and 20 leaves, so
// every supernode reports ρ = 2.5/n and fill = 20/(n·MaxLeaves): n ≥ 4
// supernodes are needed (ρ 0.625 < 0.8). A role change takes 500 ms;
// supernodes report every second.
type staggerResult struct {
	log      []string // every decision, for determinism checks
	promoted []int    // nodes that became supernodes, in order
	machines []*Machine
	scores   []float64
	all      []Decision
}

func staggerRun(t *testing.T, seedBase uint64) staggerResult {
	t.Helper()
	cfg := LocalConfig()
	const (
		nodes       = 20
		load        = 2.5
		totalLeaves = 20
	)
	created := t0.Add(-time.Minute) // MinDwell as a leaf already served
	type node struct {
		m        *Machine
		x        measured
		busy     bool
		doneAt   time.Time
		target   Role
		promoted bool
	}
	ns := make([]*node, nodes)
	for i := range ns {
		// Uptime (30 s..4.3 min of ScoreUptime's 5) and upload (log-spaced
		// from MinUpload to ScoreUpload) grow with i: scores spread ~0.05..0.93.
		x := goodNode(t0.Add(-time.Duration(30+12*i) * time.Second))
		x.upload = int64(float64(cfg.MinUpload) * math.Pow(float64(cfg.ScoreUpload)/float64(cfg.MinUpload), float64(i)/(nodes-1)))
		ns[i] = &node{m: newTestMachine(t, cfg, created, seedBase+uint64(i)), x: x}
	}
	var res staggerResult
	for now := t0; now.Before(t0.Add(2 * time.Minute)); now = now.Add(250 * time.Millisecond) {
		for _, n := range ns {
			if n.busy && !now.Before(n.doneAt) {
				n.busy = false
				step(t, n.m, RoleChanged{Role: n.target, At: now})
			}
		}
		var supers []string
		for i, n := range ns {
			if n.m.Role() == RoleSupernode {
				supers = append(supers, fmt.Sprintf("node-%d", i))
			}
		}
		count := 1 + len(supers)
		rho := load / float64(count)
		leaves := totalLeaves / count
		if now.Sub(t0)%time.Second == 0 { // heartbeat round
			for i, n := range ns {
				if now.Sub(t0)%(10*time.Second) == 0 {
					n.x.refresh(t, n.m, now)
				}
				self := fmt.Sprintf("node-%d", i)
				others := 1 + len(supers)
				if n.m.Role() == RoleSupernode {
					others--
					step(t, n.m, Load{Rho: rho, Leaves: leaves, At: now})
				}
				step(t, n.m, Supernodes{Reachable: others, At: now})
				for _, from := range append([]string{"sn-0"}, supers...) {
					if from != self {
						step(t, n.m, Demand{From: from, Rho: rho, Leaves: leaves, MaxLeaves: cfg.MaxLeaves, At: now})
					}
				}
			}
		}
		for i, n := range ns {
			n.m.Tick(now)
			for _, d := range n.m.Ready() {
				res.log = append(res.log, fmt.Sprintf("node-%d %s", i, d))
				res.all = append(res.all, d)
				if d.IsProposal() {
					if d.Target != RoleSupernode || n.busy {
						t.Fatalf("node %d: unexpected proposal %v", i, d)
					}
					n.busy, n.doneAt, n.target = true, now.Add(500*time.Millisecond), d.Target
					res.promoted = append(res.promoted, i)
				}
			}
		}
	}
	for _, n := range ns {
		res.machines = append(res.machines, n.m)
		res.scores = append(res.scores, n.m.Status().Score)
	}
	return res
}

// 20 candidates see the same demand at the same moment. They must not all
// promote: the best-ranked go first, the capacity they add is reported back,
// and the rest re-check and cancel.
func TestStaggeredPromotion(t *testing.T) {
	res := staggerRun(t, 1000)
	const needed = 3 // 1 + 3 supernodes bring ρ to 0.625 < 0.8
	if n := len(res.promoted); n < needed || n > needed+3 {
		t.Fatalf("%d promotions (%v), want %d..%d\n%s", n, res.promoted, needed, needed+3, joinLines(res.log))
	}
	if got := countKind(res.all, KindScheduled); got != 20 {
		t.Errorf("%d scheduled, want all 20 (same demand signal)", got)
	}
	if got := countKind(res.all, KindCancelled); got != 20-len(res.promoted) {
		t.Errorf("%d cancelled, want %d", got, 20-len(res.promoted))
	}
	var promotedScore, cancelledScore float64
	for i, m := range res.machines {
		st := m.Status()
		isPromoted := slices.Contains(res.promoted, i)
		if isPromoted != (st.Role == RoleSupernode) {
			t.Errorf("node %d: promoted %v, role %v", i, isPromoted, st.Role)
		}
		if st.Pending != nil {
			t.Errorf("node %d still has a pending proposal %+v", i, st.Pending)
		}
		if isPromoted {
			promotedScore += res.scores[i] / float64(len(res.promoted))
		} else {
			cancelledScore += res.scores[i] / float64(20-len(res.promoted))
			if st.Demand.Rho >= LocalConfig().PromoteRho {
				t.Errorf("node %d still sees demand ρ %.2f", i, st.Demand.Rho)
			}
		}
	}
	if promotedScore <= cancelledScore {
		t.Errorf("promoted mean score %.2f ≤ cancelled %.2f: ranking not used", promotedScore, cancelledScore)
	}
	t.Logf("promoted %v (mean score %.2f), %d cancelled (mean score %.2f)", res.promoted, promotedScore, 20-len(res.promoted), cancelledScore)
}

// Same seeds and inputs: the same decisions, byte for byte. Other seeds:
// different jitter, so different schedules.
func TestDeterministic(t *testing.T) {
	a, b := staggerRun(t, 1000), staggerRun(t, 1000)
	if !slices.Equal(a.log, b.log) {
		t.Fatalf("same seeds, different decisions:\n%s\n---\n%s", joinLines(a.log), joinLines(b.log))
	}
	if c := staggerRun(t, 2000); slices.Equal(a.log, c.log) {
		t.Errorf("different seeds gave identical decisions; jitter unused?")
	}
}

func joinLines(ss []string) string {
	out := ""
	for _, s := range ss {
		out += s + "\n"
	}
	return out
}
