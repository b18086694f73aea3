package election

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestEligibilityCriteria(t *testing.T) {
	cfg := DefaultConfig()
	now := t0.Add(24 * time.Hour)
	reach := Reachability{Reachable: true, VerifiedBy: "peerA", At: now}
	upt := Uptime{SessionStart: now.Add(-3 * time.Hour), At: now}
	bw := Bandwidth{Upload: 20 << 10, At: now}
	res := Resources{CPU: 0.5, Mem: 0.5, At: now}
	all := func(extra ...Observation) []Observation {
		return append([]Observation{reach, upt, bw, res}, extra...)
	}
	without := func(drop int) []Observation {
		o := all()
		return append(o[:drop:drop], o[drop+1:]...)
	}
	type want struct {
		criterion string
		known, ok bool
	}
	tests := []struct {
		name     string
		obs      []Observation
		eligible bool
		want     want
	}{
		{"all good", all(), true, want{"reachable", true, true}},
		{"nothing observed", nil, false, want{"reachable", false, false}},

		{"reachability unknown", without(0), false, want{"reachable", false, false}},
		{"dial-back failed", all(Reachability{Reachable: false, At: now}), false, want{"reachable", true, false}},
		{"dial-back stale", all(Reachability{Reachable: true, VerifiedBy: "p", At: now.Add(-cfg.ReachabilityTTL - time.Second)}), true, want{"reachable", true, true}}, // older than the held one: ignored
		{"only a stale dial-back", append(without(0), Reachability{Reachable: true, VerifiedBy: "p", At: now.Add(-cfg.ReachabilityTTL - time.Second)}), false, want{"reachable", false, false}},

		{"uptime unknown", without(1), false, want{"uptime_current", false, false}},
		{"current uptime just below", all(Uptime{SessionStart: now.Add(-cfg.MinUptime + time.Second), At: now}), false, want{"uptime_current", true, false}},
		{"current uptime at threshold", all(Uptime{SessionStart: now.Add(-cfg.MinUptime), At: now}), true, want{"uptime_current", true, true}},
		{"short session, good average", all(Uptime{SessionStart: now.Add(-time.Minute), Average: 90 * time.Minute, Sessions: 4, At: now}), true, want{"uptime_average", true, true}},
		{"short session, poor average", all(Uptime{SessionStart: now.Add(-time.Minute), Average: 30 * time.Minute, Sessions: 4, At: now}), false, want{"uptime_average", true, false}},
		{"short session, no history", all(Uptime{SessionStart: now.Add(-time.Minute), Average: 5 * time.Hour, Sessions: 0, At: now}), false, want{"uptime_average", false, false}},

		{"upload unknown", without(2), false, want{"upload", false, false}},
		{"upload below", all(Bandwidth{Upload: cfg.MinUpload - 1, At: now}), false, want{"upload", true, false}},
		{"upload at floor", all(Bandwidth{Upload: cfg.MinUpload, At: now}), true, want{"upload", true, true}},
		{"upload stale", append(without(2), Bandwidth{Upload: 1 << 20, At: now.Add(-cfg.MeasurementTTL - time.Second)}), false, want{"upload", false, false}},

		{"headroom unknown", without(3), false, want{"headroom", false, false}},
		{"cpu busy", all(Resources{CPU: 0.1, Mem: 0.9, At: now}), false, want{"headroom", true, false}},
		{"memory short", all(Resources{CPU: 0.9, Mem: 0.1, At: now}), false, want{"headroom", true, false}},
		{"headroom at threshold", all(Resources{CPU: cfg.MinHeadroom, Mem: 1, At: now}), true, want{"headroom", true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMachine(t, cfg, t0, 1)
			m.Tick(now)
			for _, o := range tt.obs {
				step(t, m, o)
			}
			st := m.Status()
			if st.Eligible != tt.eligible {
				t.Errorf("Eligible = %v, want %v; criteria %+v", st.Eligible, tt.eligible, st.Criteria)
			}
			c := criterion(t, st, tt.want.criterion)
			if c.Known != tt.want.known || c.OK != tt.want.ok {
				t.Errorf("%s: known=%v ok=%v, want %v %v (%s)", c.Name, c.Known, c.OK, tt.want.known, tt.want.ok, c)
			}
		})
	}
}

// Reachability expires: a node verified once and never again loses eligibility.
func TestReachabilityExpires(t *testing.T) {
	cfg := DefaultConfig()
	m := newTestMachine(t, cfg, t0, 1)
	goodNode(t0.Add(-3*time.Hour)).refresh(t, m, t0)
	if !m.Status().Eligible {
		t.Fatal("not eligible at start")
	}
	m.Tick(t0.Add(cfg.ReachabilityTTL + time.Second))
	st := m.Status()
	if c := criterion(t, st, "reachable"); st.Eligible || c.Known {
		t.Fatalf("still eligible after the dial-back expired: %s", c)
	}
}

func TestObservationValidation(t *testing.T) {
	now := t0
	tests := []struct {
		name string
		obs  Observation
		want error
	}{
		{"nil", nil, ErrInvalidObservation},
		{"zero tick", Tick{}, ErrInvalidObservation},
		{"reachable unverified", Reachability{Reachable: true, At: now}, ErrUnverifiedReachability},
		{"reachable unverified is invalid too", Reachability{Reachable: true, At: now}, ErrInvalidObservation},
		{"reachability zero time", Reachability{Reachable: true, VerifiedBy: "p"}, ErrInvalidObservation},
		{"negative upload", Bandwidth{Upload: -1, At: now}, ErrInvalidObservation},
		{"cpu above 1", Resources{CPU: 2, Mem: 0.5, At: now}, ErrInvalidObservation},
		{"mem NaN", Resources{CPU: 0.5, Mem: math.NaN(), At: now}, ErrInvalidObservation},
		{"session after At", Uptime{SessionStart: now.Add(time.Second), At: now}, ErrInvalidObservation},
		{"zero session", Uptime{At: now}, ErrInvalidObservation},
		{"negative average", Uptime{SessionStart: now, Average: -1, At: now}, ErrInvalidObservation},
		{"demand without From", Demand{Rho: 0.5, Leaves: 1, MaxLeaves: 10, At: now}, ErrInvalidObservation},
		{"demand rho NaN", Demand{From: "s", Rho: math.NaN(), MaxLeaves: 10, At: now}, ErrInvalidObservation},
		{"demand rho Inf", Demand{From: "s", Rho: math.Inf(1), MaxLeaves: 10, At: now}, ErrInvalidObservation},
		{"demand negative rho", Demand{From: "s", Rho: -0.1, MaxLeaves: 10, At: now}, ErrInvalidObservation},
		{"demand zero capacity", Demand{From: "s", Rho: 0.1, MaxLeaves: 0, At: now}, ErrInvalidObservation},
		{"demand negative leaves", Demand{From: "s", Leaves: -1, MaxLeaves: 10, At: now}, ErrInvalidObservation},
		{"load negative rho", Load{Rho: -1, At: now}, ErrInvalidObservation},
		{"negative supernodes", Supernodes{Reachable: -1, At: now}, ErrInvalidObservation},
		{"unknown role", RoleChanged{Role: Role(7), At: now}, ErrInvalidObservation},
		{"failure with no proposal", RoleChangeFailed{Err: errors.New("x"), At: now}, ErrNoProposal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestMachine(t, DefaultConfig(), t0, 1)
			before := m.Status()
			if err := m.Step(tt.obs); !errors.Is(err, tt.want) {
				t.Fatalf("Step = %v, want %v", err, tt.want)
			}
			if after := m.Status(); after.Now != before.Now || after.Role != before.Role || m.HasReady() {
				t.Errorf("an invalid observation changed the machine")
			}
		})
	}
}

func TestScoreRanksUptimeAndBandwidth(t *testing.T) {
	cfg := DefaultConfig()
	score := func(uptime time.Duration, upload int64) float64 {
		m := newTestMachine(t, cfg, t0, 1)
		step(t, m, Uptime{SessionStart: t0.Add(-uptime), At: t0})
		step(t, m, Bandwidth{Upload: upload, At: t0})
		return m.Status().Score
	}
	lo, midUp, midBw, hi := score(2*time.Hour, 10<<10), score(20*time.Hour, 10<<10), score(2*time.Hour, 200<<10), score(100*time.Hour, 10<<20)
	if !(lo < midUp && lo < midBw && midUp < hi && midBw < hi) || hi != 1 {
		t.Errorf("scores not ordered: lo %.3f midUp %.3f midBw %.3f hi %.3f", lo, midUp, midBw, hi)
	}
	if s := score(0, 0); s != 0 {
		t.Errorf("score with nothing = %v", s)
	}
}
