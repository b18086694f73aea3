package election

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// herdRun simulates surplus demotions among n supernodes with equal
// scores: the case in which staggering by score alone does nothing. The
// overlay holds 12 leaf sessions; each supernode serves 8, so 6, 5 and 4
// supernodes are a surplus (fill 0.25, 0.3, 0.375 ≤ 0.4) and 3 are not
// (0.5): the count should settle at 3, one demotion at a time. Supernodes learn each other's
// load (and Leaving flag) in rounds every reportEvery, the way the runner
// queries its peers; a demotion takes 1 s and its leaves spread evenly over
// the supernodes that stay. It returns how many supernodes remain and the
// highest fill the survivors ever carried.
func herdRun(t *testing.T, cfg Config, n int, seed uint64) (left int, worstFill float64, log []string) {
	t.Helper()
	const (
		sessions    = 12
		reportEvery = 3 * time.Second
	)
	cfg.MaxLeaves = 8
	type sn struct {
		id     string
		m      *Machine
		x      measured
		super  bool
		doneAt time.Time // demotion in progress until then
	}
	nodes := make([]*sn, n)
	start := t0.Add(-time.Hour) // sessions began long ago: scores saturate
	for i := range nodes {
		id := fmt.Sprintf("12D3KooW-%02d", i)
		c := cfg
		c.ID = id
		x := goodNode(start)
		x.upload = c.ScoreUpload        // equal, saturated scores
		created := t0.Add(-time.Minute) // MinDwell served by t0
		m := newTestMachine(t, c, created, seed+uint64(i))
		x.refresh(t, m, created)
		step(t, m, RoleChanged{Role: RoleSupernode, At: created})
		nodes[i] = &sn{id: id, m: m, x: x, super: true}
	}
	supers := func() (k int) {
		for _, s := range nodes {
			if s.super {
				k++
			}
		}
		return k
	}
	var reports []Demand
	for now := t0; now.Before(t0.Add(3 * time.Minute)); now = now.Add(100 * time.Millisecond) {
		for _, s := range nodes {
			if !s.doneAt.IsZero() && !now.Before(s.doneAt) {
				s.doneAt, s.super = time.Time{}, false
				step(t, s.m, RoleChanged{Role: RoleLeaf, At: now})
				log = append(log, fmt.Sprintf("%s %s now a leaf", now.Sub(t0), s.id))
			}
		}
		k := supers()
		if k == 0 {
			return 0, worstFill, log
		}
		per := sessions / k
		worstFill = max(worstFill, float64(sessions)/float64(k*cfg.MaxLeaves))
		if now.Sub(t0)%reportEvery == 0 { // a load round: reports as of now
			reports = reports[:0]
			for _, s := range nodes {
				if s.super {
					st := s.m.Status()
					reports = append(reports, Demand{From: s.id, Leaves: per, MaxLeaves: cfg.MaxLeaves, Rho: 0.05, Leaving: s.m.Leaving(), Score: st.Score, At: now})
				}
			}
		}
		for _, s := range nodes {
			if !s.super {
				continue
			}
			s.x.refresh(t, s.m, now)
			step(t, s.m, Load{Rho: 0.05, Leaves: per, MaxLeaves: cfg.MaxLeaves, At: now})
			step(t, s.m, Supernodes{Reachable: k - 1, At: now})
			for _, r := range reports {
				if r.From != s.id {
					r.At = now // fresh as of the last round, for the TTL
					step(t, s.m, r)
				}
			}
			s.m.Tick(now)
			_, props := drain(s.m)
			for _, p := range props {
				if p.Kind != KindDemote {
					t.Fatalf("%s: unexpected proposal %+v", s.id, p)
				}
				s.doneAt = now.Add(time.Second)
				log = append(log, fmt.Sprintf("%s %s demotes: %s", now.Sub(t0), s.id, p.Reason))
			}
		}
	}
	return supers(), worstFill, log
}

// TestSurplusDemotionsDoNotHerd: equal-score supernodes leave one at a
// time, each counting the ones already leaving, and stop at the demote
// band: no herd of demotions that overshoots it or empties the overlay
// (which would bring promotions back).
func TestSurplusDemotionsDoNotHerd(t *testing.T) {
	cfg := LocalConfig()
	for seed := uint64(1); seed <= 5; seed++ {
		left, worst, log := herdRun(t, cfg, 6, seed)
		if left != 3 || worst >= cfg.PromoteFill {
			t.Errorf("seed %d: %d supernodes left (want 3), worst fill %.2f (promote at %.2f)\n%s",
				seed, left, worst, cfg.PromoteFill, strings.Join(log, "\n"))
		}
	}
}

// TestSurplusDemotionsHerdWithoutTheOrder: the same overlay without the
// demotion order (DemoteSlot 0): the equal-score supernodes' timers fire
// within the jitter of each other and they do not settle at 3 (they herd
// out together, or all flag Leaving, see each other leaving and stay).
// This is what the order is for.
func TestSurplusDemotionsHerdWithoutTheOrder(t *testing.T) {
	cfg := LocalConfig()
	cfg.DemoteSlot = 0
	for seed := uint64(1); seed <= 5; seed++ {
		if left, _, log := herdRun(t, cfg, 6, seed); left == 3 {
			t.Errorf("seed %d settled at 3 without the order: the simulation does not exercise the bug\n%s", seed, strings.Join(log, "\n"))
		}
	}
}

// TestLeavingPeersLeaveTheProjection: a supernode's surplus projection
// spreads the load of peers that report Leaving over the ones that stay.
func TestLeavingPeersLeaveTheProjection(t *testing.T) {
	cfg := LocalConfig()
	cfg.MaxLeaves = 10
	m := newTestMachine(t, cfg, t0, 1)
	x := goodNode(t0.Add(-time.Hour))
	x.refresh(t, m, t0)
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	step(t, m, Load{Rho: 0.1, Leaves: 3, MaxLeaves: 10, At: t0})
	step(t, m, Supernodes{Reachable: 2, At: t0})
	step(t, m, Demand{From: "a", Rho: 0.1, Leaves: 3, MaxLeaves: 10, Score: 1, At: t0})
	step(t, m, Demand{From: "b", Rho: 0.1, Leaves: 3, MaxLeaves: 10, Score: 1, At: t0})
	st := m.Status()
	if st.Demand.Condition != "surplus" || *st.Demand.ProjectedFill != 0.45 {
		t.Fatalf("with nobody leaving: %+v", st.Demand)
	}
	// b leaves: 9 sessions on a alone would be 0.9, the promote fill.
	step(t, m, Demand{From: "b", Rho: 0.1, Leaves: 3, MaxLeaves: 10, Leaving: true, Score: 1, At: t0.Add(time.Second)})
	st = m.Status()
	if st.Demand.Condition == "surplus" || st.Demand.Leaving != 1 || *st.Demand.ProjectedFill != 0.9 {
		t.Fatalf("with b leaving: %+v", st.Demand)
	}
	// a leaves too: the last supernode stays.
	step(t, m, Demand{From: "a", Rho: 0.1, Leaves: 3, MaxLeaves: 10, Leaving: true, Score: 1, At: t0.Add(time.Second)})
	if st = m.Status(); st.Demand.Condition == "surplus" || !st.Demand.Sole {
		t.Fatalf("with every other leaving: %+v", st.Demand)
	}
}

// TestDemoteSlotOrdersByScoreThenID: the wait grows with the staying
// reporters ranked below, by score and then by ID; leaving ones don't count.
func TestDemoteSlotOrdersByScoreThenID(t *testing.T) {
	cfg := LocalConfig()
	cfg.Jitter, cfg.StaggerMax, cfg.DemandWindow = 0, 0, 0
	cfg.ReportTTL = time.Hour // the reports fed once stay fresh through the wait
	cfg.ID = "m"
	cases := []struct {
		name    string
		reports []Demand
		below   int
	}{
		// This node's score is 1 (saturated uptime and upload).
		{"equal scores, higher IDs", []Demand{{From: "y", Score: 1}, {From: "z", Score: 1}}, 0},
		{"weaker peers", []Demand{{From: "x", Score: 0.1}, {From: "z", Score: 0.2}}, 2},
		{"equal scores, split by ID", []Demand{{From: "a", Score: 1}, {From: "z", Score: 1}}, 1},
		{"leaving peers are not ranked", []Demand{{From: "x", Score: 0.1, Leaving: true}, {From: "y", Score: 0.1}, {From: "z", Score: 1}}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMachine(t, cfg, t0, 1)
			x := goodNode(t0)
			x.upload = cfg.ScoreUpload
			x.refresh(t, m, t0.Add(time.Hour))
			step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
			for _, r := range tc.reports {
				r.MaxLeaves, r.At = 10, t0.Add(time.Hour)
				step(t, m, r)
			}
			step(t, m, Supernodes{Reachable: len(tc.reports), At: t0.Add(time.Hour)})
			// Own load last: the surplus decision sees every report.
			step(t, m, Load{Rho: 0, Leaves: 0, MaxLeaves: 10, At: t0.Add(time.Hour)})
			st := m.Status()
			if st.Demand.RankBelow != tc.below {
				t.Fatalf("rank below %d, want %d: %+v", st.Demand.RankBelow, tc.below, st.Demand)
			}
			turn := time.Duration(tc.below) * cfg.DemoteSlot
			want := turn + cfg.DemoteSlot // then a slot's notice (no stagger, no jitter here)
			if st.Pending == nil || st.Pending.Proposed || st.Pending.Due.Sub(st.Pending.ScheduledAt) != want {
				t.Fatalf("pending %+v, want a demotion due after %s", st.Pending, want)
			}
			at := st.Pending.ScheduledAt
			if leaving := m.Leaving(); leaving != (turn == 0) || st.Leaving != leaving {
				t.Fatalf("leaving %v at the schedule, want %v (turn after %s)", leaving, turn == 0, turn)
			}
			if turn > 0 {
				m.Tick(at.Add(turn - time.Millisecond))
				if m.Leaving() {
					t.Fatal("leaving while weaker supernodes go first")
				}
				m.Tick(at.Add(turn))
				if !m.Leaving() || !m.Status().Leaving {
					t.Fatal("not leaving once its turn came")
				}
			}
			m.Tick(at.Add(want - time.Millisecond))
			if _, props := drain(m); len(props) != 0 {
				t.Fatalf("proposed before the notice ended: %+v", props)
			}
			m.Tick(at.Add(want))
			if _, props := drain(m); len(props) != 1 || props[0].Kind != KindDemote {
				t.Fatalf("proposals at the due time: %+v, want one demotion", props)
			}
		})
	}
}

// TestRanksBelowIsAnOrder: two nodes never both see the other one below
// them, even when their scores differ by report staleness alone.
func TestRanksBelowIsAnOrder(t *testing.T) {
	for _, c := range []struct{ a, b float64 }{{0.5, 0.5}, {0.5, 0.505}, {0.5, 0.519}, {0.5, 0.52}, {0.1, 0.9}} {
		ab := ranksBelow(c.a, "A", c.b, "B") // A below B, in B's view
		ba := ranksBelow(c.b, "B", c.a, "A") // B below A, in A's view
		if ab == ba {
			t.Errorf("scores %v (A) and %v (B): A below B %v, B below A %v", c.a, c.b, ab, ba)
		}
	}
}
