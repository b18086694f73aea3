package election

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// suspendedSupernode returns a machine that promoted at t0 (so its dwell
// runs until t0+MinDwell) and has been fed measurements and an idle peer
// every second until `until`.
func suspendedSupernode(t *testing.T, cfg Config, until time.Time) (*Machine, measured) {
	t.Helper()
	start := t0.Add(-time.Minute)
	m := newTestMachine(t, cfg, start, 3)
	x := goodNode(start)
	x.refresh(t, m, t0)
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	for now := t0; !now.After(until); now = now.Add(time.Second) {
		x.refresh(t, m, now)
		step(t, m, Load{Rho: 0.1, Leaves: 3, At: now})
		step(t, m, Supernodes{Reachable: 1, At: now})
		step(t, m, Demand{From: "sn-1", Rho: 0.1, Leaves: 3, MaxLeaves: cfg.MaxLeaves, At: now})
		m.Tick(now)
	}
	if all, _ := drain(m); countKind(all, KindDemote) != 0 {
		t.Fatalf("demoted before the sleep: %v", all)
	}
	return m, x
}

// Issue 19, acceptance 5 (the machine): a supernode that was suspended
// proposes leaf at once — inside its dwell, with no stagger — with the
// reason "suspended"; afterwards its uptime counts from the wake-up and
// what it measured before the sleep is forgotten.
func TestSuspendedSupernodeStepsDown(t *testing.T) {
	cfg := LocalConfig()
	asleepAt := t0.Add(5 * time.Second) // well inside MinDwell (30 s)
	m, x := suspendedSupernode(t, cfg, asleepAt)
	wake := asleepAt.Add(30 * time.Second)

	step(t, m, Suspended{Slept: wake.Sub(asleepAt), At: wake})
	all, props := drain(m)
	if len(props) != 1 {
		t.Fatalf("decisions on waking %v, want one proposal", all)
	}
	d := props[0]
	if d.Kind != KindDemote || d.Target != RoleLeaf || d.Cause != "suspended" || !strings.Contains(d.Reason, "suspended") || !d.At.Equal(wake) {
		t.Fatalf("proposal %+v, want demote to leaf for \"suspended\" at the wake-up", d)
	}
	if !m.Leaving() {
		t.Error("a supernode stepping down after a sleep does not report Leaving")
	}
	st := m.Status()
	if !st.WokeAt.Equal(wake) || st.Slept != 30*time.Second || st.Pending == nil || st.Pending.Cause != "suspended" {
		t.Errorf("status woke_at %v slept %v pending %+v", st.WokeAt, st.Slept, st.Pending)
	}
	for _, name := range []string{"reachable", "upload", "headroom"} {
		if c := criterion(t, st, name); c.Known {
			t.Errorf("%s measured before the sleep still counts: %+v", name, c)
		}
	}
	if c := criterion(t, st, "uptime_current"); !c.Known || c.Value != 0 || !strings.Contains(c.Detail, "waking") {
		t.Errorf("uptime_current %+v, want 0 s from the wake-up", c)
	}

	// Measurements started before the sleep and finished after it are
	// ignored; the same wake-up reported twice changes nothing.
	step(t, m, Reachability{Reachable: true, VerifiedBy: "old", At: asleepAt})
	step(t, m, Suspended{Slept: time.Second, At: wake})
	if c := criterion(t, m.Status(), "reachable"); c.Known {
		t.Errorf("a dial-back from before the sleep was kept: %+v", c)
	}
	if all, _ := drain(m); len(all) != 0 {
		t.Errorf("decisions %v after a repeated wake-up", all)
	}

	// Committed: a leaf, not eligible until MinUptime after the wake-up
	// (its session began long before the sleep), so no quick comeback.
	step(t, m, RoleChanged{Role: RoleLeaf, At: wake.Add(200 * time.Millisecond)})
	for now := wake; now.Before(wake.Add(cfg.MinUptime)); now = now.Add(500 * time.Millisecond) {
		x.refresh(t, m, now)
		step(t, m, Supernodes{Reachable: 0, At: now})
		m.Tick(now)
		if m.Status().Eligible {
			t.Fatalf("eligible %s after waking, before MinUptime %s", now.Sub(wake), cfg.MinUptime)
		}
	}
	if all, _ := drain(m); countKind(all, KindPromote)+countKind(all, KindScheduled) != 0 {
		t.Errorf("promotion within MinUptime of the wake-up: %v", all)
	}
	x.refresh(t, m, wake.Add(cfg.MinUptime))
	if !m.Status().Eligible {
		t.Errorf("not eligible MinUptime after waking: %s", m.Status())
	}
}

// The caller could not step down (the hand-over failed): it retries after
// the backoff, still for "suspended", without waiting for the dwell.
func TestSuspendedDemotionRetriedAfterBackoff(t *testing.T) {
	cfg := LocalConfig()
	m, x := suspendedSupernode(t, cfg, t0.Add(2*time.Second))
	wake := t0.Add(40 * time.Second)
	step(t, m, Suspended{Slept: 38 * time.Second, At: wake})
	if _, props := drain(m); len(props) != 1 {
		t.Fatalf("proposals %v", props)
	}
	step(t, m, RoleChangeFailed{Err: errors.New("boom"), At: wake})
	var retry *Decision
	for now := wake; now.Before(wake.Add(cfg.Backoff + cfg.Jitter + 2*time.Second)); now = now.Add(250 * time.Millisecond) {
		x.refresh(t, m, now)
		m.Tick(now)
		if _, props := drain(m); len(props) > 0 {
			retry = &props[0]
			break
		}
	}
	if retry == nil || retry.Cause != "suspended" || retry.Kind != KindDemote {
		t.Fatalf("retry %+v", retry)
	}
	if got := retry.At.Sub(wake); got < cfg.Backoff {
		t.Errorf("retried %s after the failure, before the backoff %s", got, cfg.Backoff)
	}
}

// A leaf that slept drops its scheduled promotion and counts its uptime
// from the wake-up; a supernode that promoted after the wake-up keeps its
// role.
func TestSuspendedLeafStartsOver(t *testing.T) {
	cfg := LocalConfig()
	start := t0.Add(-time.Minute)
	m := newTestMachine(t, cfg, start, 4)
	x := goodNode(start)
	now := t0
	for ; m.Status().Pending == nil; now = now.Add(250 * time.Millisecond) {
		x.refresh(t, m, now)
		step(t, m, Supernodes{Reachable: 0, At: now})
		m.Tick(now)
		if now.Sub(t0) > time.Minute {
			t.Fatal("nothing scheduled")
		}
	}
	drain(m)
	wake := now.Add(time.Minute)
	step(t, m, Suspended{Slept: time.Minute, At: wake})
	all, props := drain(m)
	if len(props) != 0 || countKind(all, KindCancelled) != 1 || m.Candidate() {
		t.Fatalf("decisions %v; want the scheduled promotion cancelled", all)
	}
	st := m.Status()
	if st.Eligible || criterion(t, st, "uptime_current").Value != 0 {
		t.Errorf("after waking: eligible %v, uptime %+v", st.Eligible, criterion(t, st, "uptime_current"))
	}

	// Promoted later (after MinUptime from the wake-up): no step-down.
	later := wake.Add(cfg.MinUptime + cfg.DemandWindow + cfg.StaggerMax + cfg.Jitter + 2*time.Second)
	step(t, m, RoleChanged{Role: RoleSupernode, At: later})
	x.refresh(t, m, later)
	step(t, m, Load{Rho: 0.5, Leaves: 5, At: later})
	m.Tick(later.Add(time.Second))
	if _, props := drain(m); len(props) != 0 {
		t.Errorf("a supernode promoted after the wake-up stepped down: %v", props)
	}
}
