package election

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// coldStartRun simulates n leaves started within a second of each other
// into an overlay with no supernode: every one of them finds it empty once
// eligible. A promotion takes 1 s; a new supernode is seen by the others
// seeAfter later (they find it by asking the peers they met). Every
// pollEvery, each leaf hears the candidacies (Machine.Candidate) pending at
// that moment, directly or through a relay, unless announce is off.
// It returns the nodes that promoted, in order.
func coldStartRun(t *testing.T, n int, seed uint64, announce bool) (promoted []string, log []string) {
	t.Helper()
	const (
		seeAfter  = 3 * time.Second
		pollEvery = 2 * time.Second
		promoteIn = time.Second
	)
	cfg := LocalConfig()
	type node struct {
		id       string
		m        *Machine
		x        measured
		doneAt   time.Time // promotion in progress until then
		servesAt time.Time // a supernode since then
	}
	nodes := make([]*node, n)
	for i := range nodes {
		start := t0.Add(time.Duration(i) * 150 * time.Millisecond) // within a second
		c := cfg
		c.ID = fmt.Sprintf("12D3KooW-%02d", i)
		x := goodNode(start)
		x.upload = 50 << 20 // loopback: near-equal scores, the IDs decide ties
		nodes[i] = &node{id: c.ID, m: newTestMachine(t, c, start, seed+uint64(i)), x: x}
	}
	var heard []Candidate
	for now := t0; now.Before(t0.Add(2 * time.Minute)); now = now.Add(250 * time.Millisecond) {
		var visible []*node
		for _, s := range nodes {
			if !s.doneAt.IsZero() && !now.Before(s.doneAt) {
				s.doneAt, s.servesAt = time.Time{}, now
				step(t, s.m, RoleChanged{Role: RoleSupernode, At: now})
				log = append(log, fmt.Sprintf("%s %s serves", now.Sub(t0), s.id))
			}
			if !s.servesAt.IsZero() && !now.Before(s.servesAt.Add(seeAfter)) {
				visible = append(visible, s)
			}
		}
		if announce && now.Sub(t0)%pollEvery == 0 {
			heard = heard[:0]
			for _, s := range nodes {
				if s.m.Candidate() {
					heard = append(heard, Candidate{From: s.id, Score: s.m.Status().Score, At: now})
				}
			}
		}
		for _, s := range nodes {
			if now.Before(s.x.sessionStart) {
				continue
			}
			s.x.refresh(t, s.m, now)
			if s.m.Role() == RoleLeaf {
				seen := 0
				for _, v := range visible {
					seen++
					step(t, s.m, Demand{From: v.id, Rho: 0.05, Leaves: n - 1, MaxLeaves: cfg.MaxLeaves, At: now})
				}
				step(t, s.m, Supernodes{Reachable: seen, At: now})
				for _, c := range heard {
					step(t, s.m, c) // the machine ignores its own
				}
			}
			s.m.Tick(now)
			all, props := drain(s.m)
			for _, d := range all {
				if d.Kind != KindScheduled || d.Cause != "empty" {
					continue
				}
				log = append(log, fmt.Sprintf("%s %s schedules (due +%s)", now.Sub(t0), s.id, d.Due.Sub(now).Round(time.Millisecond)))
			}
			for _, p := range props {
				if p.Kind != KindPromote || p.Cause != "empty" {
					t.Fatalf("%s: unexpected proposal %+v", s.id, p)
				}
				s.doneAt = now.Add(promoteIn)
				promoted = append(promoted, s.id)
				log = append(log, fmt.Sprintf("%s %s promotes: %s", now.Sub(t0), s.id, p.Reason))
			}
		}
	}
	return promoted, log
}

// TestColdStartPromotesOne: leaves started together into an empty overlay
// promote one node, the highest-ranked candidate, when they announce their
// pending promotions to each other; without the announcement the stagger
// and jitter alone let several promote before the first one shows up.
func TestColdStartPromotesOne(t *testing.T) {
	herded := 0
	for seed := uint64(1); seed <= 8; seed++ {
		promoted, log := coldStartRun(t, 6, seed, true)
		if len(promoted) != 1 {
			t.Errorf("seed %d: %d promotions %v, want 1\n%s", seed, len(promoted), promoted, strings.Join(log, "\n"))
		} else if promoted[0] != "12D3KooW-05" {
			// Equal uptimes within the score tie: the highest ID goes first.
			t.Errorf("seed %d: %s promoted, want the highest-ranked 12D3KooW-05\n%s", seed, promoted[0], strings.Join(log, "\n"))
		}
		if p, _ := coldStartRun(t, 6, seed, false); len(p) > 1 {
			herded++
		}
	}
	t.Logf("without candidacies %d of 8 seeds promoted more than one node", herded)
	// The announcement is what makes it one: without it most seeds herd.
	if herded < 4 {
		t.Errorf("without candidacies only %d of 8 seeds promoted more than one node: the test no longer shows the herd", herded)
	}
}

// A pending promotion is cancelled when a candidate ranked above appears,
// not for one ranked below, and a stale candidacy stops holding a node back.
func TestCandidateRanking(t *testing.T) {
	cfg := LocalConfig()
	cfg.ID = "12D3KooW-m"
	cfg.Jitter = 0
	start := t0.Add(-time.Minute)
	m := newTestMachine(t, cfg, start, 1)
	x := goodNode(start)
	x.refresh(t, m, t0)
	step(t, m, Supernodes{Reachable: 0, At: t0})
	now := t0
	for ; m.Status().Pending == nil; now = now.Add(250 * time.Millisecond) {
		m.Tick(now)
		if now.Sub(t0) > time.Minute {
			t.Fatal("nothing scheduled")
		}
	}
	drain(m)
	if !m.Candidate() || !m.Status().Candidate {
		t.Fatal("a leaf with a promotion scheduled is not a candidate")
	}
	score := m.Status().Score

	// Below: a lower score, or an equal one and a lower ID. Nothing changes.
	step(t, m, Candidate{From: "12D3KooW-a", Score: score, At: now})
	step(t, m, Candidate{From: "12D3KooW-z", Score: score - 0.1, At: now})
	step(t, m, Candidate{From: cfg.ID, Score: 1, At: now}) // itself, relayed back
	if all, _ := drain(m); len(all) != 0 || m.Status().Pending == nil {
		t.Fatalf("candidates ranked below changed the schedule: %v", all)
	}
	// Above: an equal score and a higher ID.
	step(t, m, Candidate{From: "12D3KooW-z", Score: score + 0.01, At: now})
	all, _ := drain(m)
	if len(all) != 1 || all[0].Kind != KindCancelled || !strings.Contains(all[0].Reason, "12D3KooW-z") || m.Candidate() {
		t.Fatalf("decisions %v, candidate %v; want the promotion cancelled for 12D3KooW-z", all, m.Candidate())
	}
	if st := m.Status(); st.Demand.CandidatesAbove != 1 || !strings.Contains(st.Demand.Detail, "waiting") {
		t.Errorf("status demand %+v", st.Demand)
	}
	// While it stays fresh, nothing is scheduled; once stale, the node goes.
	heardAt := now
	for ; now.Before(heardAt.Add(cfg.ReportTTL)); now = now.Add(250 * time.Millisecond) {
		x.refresh(t, m, now)
		step(t, m, Supernodes{Reachable: 0, At: now})
		m.Tick(now)
		if all, _ := drain(m); len(all) != 0 {
			t.Fatalf("%s after the candidacy: %v", now.Sub(heardAt), all)
		}
	}
	for end := now.Add(time.Minute); m.Status().Pending == nil; now = now.Add(250 * time.Millisecond) {
		x.refresh(t, m, now)
		step(t, m, Supernodes{Reachable: 0, At: now})
		m.Tick(now)
		if now.After(end) {
			t.Fatalf("nothing scheduled after the candidacy went stale: %s", m.Status())
		}
	}
	if got := now.Sub(heardAt); got > cfg.ReportTTL+time.Second {
		t.Errorf("scheduled %s after the last candidacy, want within ReportTTL %s", got, cfg.ReportTTL)
	}
}

func TestCandidateValidation(t *testing.T) {
	m := newTestMachine(t, LocalConfig(), t0, 1)
	for _, o := range []Observation{
		Candidate{Score: 0.5, At: t0},
		Candidate{From: "p", Score: 1.5, At: t0},
		Candidate{From: "p", Score: -0.1, At: t0},
		Candidate{From: "p", Score: 0.5},
		Suspended{Slept: 0, At: t0},
		Suspended{Slept: -time.Second, At: t0},
		Suspended{Slept: time.Second},
	} {
		if err := m.Step(o); err == nil {
			t.Errorf("Step(%+v) accepted", o)
		}
	}
}
