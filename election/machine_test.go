package election

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// An eligible leaf that can reach no supernode at all promotes itself once
// the empty overlay has lasted DemandWindow, after its stagger delay.
func TestEmptyOverlayBootstraps(t *testing.T) {
	cfg := LocalConfig()
	start := t0.Add(-time.Minute) // dwell already served at t0
	m := newTestMachine(t, cfg, start, 7)
	goodNode(start).refresh(t, m, t0)
	step(t, m, Supernodes{Reachable: 0, At: t0})

	var log []Decision
	var promote *Decision
	for now := t0; now.Before(t0.Add(time.Minute)) && promote == nil; now = now.Add(100 * time.Millisecond) {
		m.Tick(now)
		all, props := drain(m)
		log = append(log, all...)
		if len(props) > 0 {
			promote = &props[0]
		}
	}
	if promote == nil {
		t.Fatalf("no promotion; decisions %v\nstatus:\n%s", log, m.Status())
	}
	if promote.Kind != KindPromote || promote.Target != RoleSupernode || !strings.Contains(promote.Reason, "no supernode reachable") {
		t.Errorf("proposal %v", promote)
	}
	if got := promote.At.Sub(t0); got < cfg.DemandWindow || got > cfg.DemandWindow+cfg.StaggerMax+cfg.Jitter {
		t.Errorf("promoted after %v, want within DemandWindow + stagger", got)
	}
	if countKind(log, KindScheduled) != 1 {
		t.Errorf("want one schedule before the proposal: %v", log)
	}
	if m.Role() != RoleLeaf {
		t.Fatal("role changed before the caller committed it")
	}
	if p := m.Status().Pending; p == nil || !p.Proposed {
		t.Fatalf("pending %+v, want the proposal in flight", p)
	}
	step(t, m, RoleChanged{Role: RoleSupernode, At: promote.At.Add(time.Second)})
	if st := m.Status(); st.Role != RoleSupernode || st.RoleChanges != 1 || st.Pending != nil {
		t.Errorf("after RoleChanged: %+v", st)
	}
}

func TestEmptyOverlayNeedsEligibilityAndKnowledge(t *testing.T) {
	cfg := LocalConfig()
	tests := []struct {
		name string
		node measured
		obs  []Observation
	}{
		{"not reachable", measured{sessionStart: t0.Add(-time.Hour), upload: 1 << 20, headroom: 0.5}, []Observation{Supernodes{Reachable: 0, At: t0}}},
		{"too slow", measured{sessionStart: t0.Add(-time.Hour), upload: 1 << 10, reachable: true, headroom: 0.5}, []Observation{Supernodes{Reachable: 0, At: t0}}},
		{"supernode count never observed", goodNode(t0.Add(-time.Hour)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMachine(t, cfg, t0.Add(-time.Minute), 1)
			tt.node.refresh(t, m, t0)
			for _, o := range tt.obs {
				step(t, m, o)
			}
			for now := t0; now.Before(t0.Add(5 * time.Minute)); now = now.Add(time.Second) {
				if now.Sub(t0)%(20*time.Second) == 0 {
					tt.node.refresh(t, m, now)
				}
				m.Tick(now)
				if all, _ := drain(m); len(all) > 0 {
					t.Fatalf("decided %v", all)
				}
			}
		})
	}
}

// A scheduled promotion is re-checked: when a supernode shows up with spare
// capacity before the delay runs out, it is cancelled.
func TestPendingPromotionCancelledWhenSupernodeAppears(t *testing.T) {
	cfg := LocalConfig()
	cfg.StaggerMax, cfg.Jitter = time.Minute, 0
	m := newTestMachine(t, cfg, t0.Add(-time.Minute), 1)
	goodNode(t0.Add(-20*time.Second)).refresh(t, m, t0) // low score: long delay
	step(t, m, Supernodes{Reachable: 0, At: t0})
	now := t0
	for ; m.Status().Pending == nil; now = now.Add(time.Second) {
		m.Tick(now)
		if now.Sub(t0) > time.Minute {
			t.Fatal("nothing scheduled")
		}
	}
	if p := m.Status().Pending; p.Proposed || !p.Due.After(now) {
		t.Fatalf("pending %+v", p)
	}
	step(t, m, Supernodes{Reachable: 1, At: now})
	step(t, m, Demand{From: "sn-1", Rho: 0.1, Leaves: 1, MaxLeaves: 10, At: now})
	all, props := drain(m)
	if len(props) != 0 || countKind(all, KindCancelled) != 1 || m.Status().Pending != nil {
		t.Fatalf("decisions %v, pending %+v", all, m.Status().Pending)
	}
	if last := all[len(all)-1]; !strings.Contains(last.Reason, "gone") {
		t.Errorf("cancel reason %q", last.Reason)
	}
}

// A supernode that loses eligibility demotes, but not before MinDwell, and
// not for a blip shorter than DemandWindow.
func TestLostEligibilityDemotesAfterDwell(t *testing.T) {
	cfg := DefaultConfig()
	tests := []struct {
		name      string
		lose      func(*measured)
		stopReach bool // stop re-verifying: reachability goes stale
		reason    string
	}{
		{"bandwidth lost", func(x *measured) { x.upload = 2 << 10 }, false, "upload"},
		{"reachability lost", func(x *measured) { x.reachable = false }, false, "reachable"},
		{"reachability no longer verified", nil, true, "reachable"},
		{"headroom lost", func(x *measured) { x.headroom = 0.05 }, false, "headroom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMachine(t, cfg, t0, 3)
			x := goodNode(t0.Add(-5 * time.Hour))
			x.refresh(t, m, t0)
			step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
			lostAt := t0.Add(5 * time.Minute)
			var demote *Decision
			for now := t0; now.Before(t0.Add(6*time.Hour)) && demote == nil; now = now.Add(30 * time.Second) {
				if !now.Before(lostAt) && tt.lose != nil {
					tt.lose(&x)
				}
				if now.Sub(t0)%(10*time.Minute) == 0 {
					if tt.stopReach && !now.Before(lostAt) {
						step(t, m, Uptime{SessionStart: x.sessionStart, At: now})
						step(t, m, Bandwidth{Upload: x.upload, At: now})
						step(t, m, Resources{CPU: x.headroom, Mem: x.headroom, At: now})
					} else {
						x.refresh(t, m, now)
					}
				}
				// Peers in the middle of the band: no surplus, no need.
				step(t, m, Demand{From: "sn-1", Rho: 0.5, Leaves: 25, MaxLeaves: 50, At: now})
				step(t, m, Load{Rho: 0.5, Leaves: 25, At: now})
				step(t, m, Supernodes{Reachable: 1, At: now})
				m.Tick(now)
				if _, props := drain(m); len(props) > 0 {
					demote = &props[0]
				}
			}
			if demote == nil {
				t.Fatalf("no demotion; status:\n%s", m.Status())
			}
			if demote.Kind != KindDemote || !strings.Contains(demote.Reason, tt.reason) {
				t.Errorf("proposal %v, want a demotion naming %s", demote, tt.reason)
			}
			if demote.At.Before(t0.Add(cfg.MinDwell)) {
				t.Errorf("demoted at +%v, before MinDwell %v", demote.At.Sub(t0), cfg.MinDwell)
			}
			if demote.At.After(t0.Add(cfg.MinDwell + time.Minute)) {
				t.Errorf("demoted at +%v, long after the dwell ended", demote.At.Sub(t0))
			}
		})
	}
}

func TestIneligibilityBlipDoesNotDemote(t *testing.T) {
	cfg := DefaultConfig()
	m := newTestMachine(t, cfg, t0, 3)
	x := goodNode(t0.Add(-5 * time.Hour))
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	for now := t0; now.Before(t0.Add(24 * time.Hour)); now = now.Add(30 * time.Second) {
		// Every 2 h, upload measures low for 5 min (< DemandWindow).
		y := x
		if now.Sub(t0)%(2*time.Hour) < 5*time.Minute {
			y.upload = 1 << 10
		}
		y.refresh(t, m, now)
		step(t, m, Demand{From: "sn-1", Rho: 0.5, Leaves: 25, MaxLeaves: 50, At: now})
		step(t, m, Load{Rho: 0.5, Leaves: 25, At: now})
		m.Tick(now)
		if _, props := drain(m); len(props) > 0 {
			t.Fatalf("proposed %v", props)
		}
	}
}

// runSupernodeSurplus drives a supernode whose own load and peers' reports
// are nearly idle for two days and returns its proposals.
func runSupernodeSurplus(t *testing.T, peers int, supernodes int) ([]Decision, *Machine) {
	t.Helper()
	cfg := DefaultConfig()
	m := newTestMachine(t, cfg, t0, 5)
	x := goodNode(t0.Add(-5 * time.Hour))
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	var props []Decision
	for now := t0; now.Before(t0.Add(48 * time.Hour)); now = now.Add(30 * time.Second) {
		if now.Sub(t0)%(10*time.Minute) == 0 {
			x.refresh(t, m, now)
		}
		step(t, m, Load{Rho: 0.01, Leaves: 1, At: now})
		step(t, m, Supernodes{Reachable: supernodes, At: now})
		for i := range peers {
			step(t, m, Demand{From: "sn-" + string(rune('a'+i)), Rho: 0.05, Leaves: 2, MaxLeaves: 50, At: now})
		}
		m.Tick(now)
		_, p := drain(m)
		props = append(props, p...)
		if len(p) > 0 {
			break
		}
	}
	return props, m
}

func TestSoleSupernodeDoesNotDemoteForSurplus(t *testing.T) {
	for _, tt := range []struct {
		name              string
		peers, supernodes int
	}{
		{"no other supernode reachable", 0, 0},
		{"others reachable but none reporting", 0, 3},
		{"a peer reports but none reachable", 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			props, m := runSupernodeSurplus(t, tt.peers, tt.supernodes)
			if len(props) > 0 {
				t.Fatalf("sole supernode proposed %v", props)
			}
			if st := m.Status(); !st.Demand.Sole || st.Role != RoleSupernode {
				t.Errorf("status: sole=%v role=%v", st.Demand.Sole, st.Role)
			}
		})
	}
	// Control: with a peer, the same surplus demotes after dwell.
	props, _ := runSupernodeSurplus(t, 1, 1)
	if len(props) != 1 || props[0].Kind != KindDemote || !strings.Contains(props[0].Reason, "surplus") {
		t.Fatalf("with a peer: proposals %v, want one surplus demotion", props)
	}
	if d := props[0].At.Sub(t0); d < DefaultConfig().MinDwell {
		t.Errorf("demoted after %v, before MinDwell", d)
	}
}

// Surplus is refused when the survivors would land in the promote band.
func TestSurplusProjectionGuard(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DemoteRho = 0.45 // wide enough that two supernodes at 0.44 qualify
	m := newTestMachine(t, cfg, t0, 1)
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	step(t, m, Load{Rho: 0.44, Leaves: 5, At: t0})
	step(t, m, Demand{From: "sn-1", Rho: 0.44, Leaves: 5, MaxLeaves: 50, At: t0})
	v := m.demand()
	if ok, why := m.surplus(v); ok || !strings.Contains(why.String(), "promote band") {
		t.Errorf("surplus = %v (%s), want refused by the projection", ok, why)
	}
	step(t, m, Demand{From: "sn-2", Rho: 0.2, Leaves: 5, MaxLeaves: 50, At: t0})
	if ok, why := m.surplus(m.demand()); !ok {
		t.Errorf("with three supernodes surplus = false (%s)", why)
	}
}

func TestFailedPromotionBacksOff(t *testing.T) {
	cfg := LocalConfig()
	m := newTestMachine(t, cfg, t0.Add(-time.Minute), 11)
	x := goodNode(t0.Add(-time.Hour))
	step(t, m, Supernodes{Reachable: 0, At: t0})
	var failures []Decision
	var proposals []Decision
	for now := t0; now.Before(t0.Add(5*time.Minute)) && len(failures) < 3; now = now.Add(100 * time.Millisecond) {
		if now.Sub(t0)%(10*time.Second) == 0 {
			x.refresh(t, m, now)
		}
		m.Tick(now)
		if _, props := drain(m); len(props) > 0 {
			proposals = append(proposals, props...)
			if err := m.Step(RoleChangeFailed{Err: errors.New("dht join failed"), At: now}); err != nil {
				t.Fatal(err)
			}
			all, _ := drain(m)
			failures = append(failures, all[len(all)-1])
		}
	}
	if len(failures) != 3 {
		t.Fatalf("failures %v", failures)
	}
	for i, f := range failures {
		if f.Kind != KindCancelled || !strings.Contains(f.Reason, "dht join failed") {
			t.Errorf("failure %d: %v", i, f)
		}
		b := f.Due.Sub(f.At)
		lo := cfg.Backoff << i
		if b < lo || b >= lo+cfg.Jitter {
			t.Errorf("backoff %d = %v, want [%v, %v)", i, b, lo, lo+cfg.Jitter)
		}
		if i > 0 && proposals[i].At.Before(failures[i-1].Due) {
			t.Errorf("proposal %d at %v, inside the backoff ending %v", i, proposals[i].At, failures[i-1].Due)
		}
	}
	if st := m.Status(); st.Failures != 3 || st.Role != RoleLeaf {
		t.Errorf("status failures %d role %v", st.Failures, st.Role)
	}
}

func TestRoleChangedByCaller(t *testing.T) {
	cfg := LocalConfig()
	m := newTestMachine(t, cfg, t0.Add(-time.Minute), 1)
	goodNode(t0.Add(-time.Hour)).refresh(t, m, t0)
	step(t, m, Supernodes{Reachable: 0, At: t0})
	now := t0
	for ; m.Status().Pending == nil; now = now.Add(time.Second) {
		m.Tick(now)
	}
	drain(m)
	if p := m.Status().Pending; p.Proposed {
		t.Fatal("proposed without a stagger delay")
	}
	// The operator forces the role: the schedule is obsolete.
	step(t, m, RoleChanged{Role: RoleSupernode, At: now})
	all, _ := drain(m)
	if countKind(all, KindCancelled) != 1 || m.Role() != RoleSupernode || m.Status().Pending != nil {
		t.Errorf("decisions %v role %v", all, m.Role())
	}
	// Reporting the same role again changes nothing.
	step(t, m, RoleChanged{Role: RoleSupernode, At: now.Add(time.Second)})
	if st := m.Status(); st.RoleChanges != 1 || !st.Since.Equal(now) {
		t.Errorf("re-reported role: changes %d since %v", st.RoleChanges, st.Since)
	}
}

func TestOutOfOrderMeasurementIgnored(t *testing.T) {
	m := newTestMachine(t, DefaultConfig(), t0, 1)
	step(t, m, Bandwidth{Upload: 1 << 20, At: t0.Add(time.Minute)})
	step(t, m, Bandwidth{Upload: 1, At: t0}) // older: ignored
	if c := criterion(t, m.Status(), "upload"); !c.OK {
		t.Errorf("older measurement replaced a newer one: %s", c)
	}
	m.Tick(t0) // clock never goes back
	if !m.Now().Equal(t0.Add(time.Minute)) {
		t.Errorf("Now = %v", m.Now())
	}
}
