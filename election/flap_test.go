package election

import (
	"math"
	"testing"
	"time"
)

// signal gives what the one other supernode ("sn-0") reports at now, given
// the node's committed role. When the node is a supernode its own load is
// the same ρ and fill (load shared evenly).
type signal func(now time.Time, role Role) (rho, fill float64)

// runOne drives one node against one other supernode for dur, committing
// every proposal at once, and returns the times of its role changes.
func runOne(t *testing.T, cfg Config, dur, tick time.Duration, seed uint64, sig signal) []time.Time {
	t.Helper()
	m := newTestMachine(t, cfg, t0, seed)
	x := goodNode(t0.Add(-3 * time.Hour))
	var changes []time.Time
	for now := t0; now.Before(t0.Add(dur)); now = now.Add(tick) {
		if now.Sub(t0)%(10*time.Minute) == 0 {
			x.refresh(t, m, now)
		}
		rho, fill := sig(now, m.Role())
		leaves := int(math.Round(fill * float64(cfg.MaxLeaves)))
		step(t, m, Demand{From: "sn-0", Rho: rho, Leaves: leaves, MaxLeaves: cfg.MaxLeaves, At: now})
		step(t, m, Supernodes{Reachable: 1, At: now})
		if m.Role() == RoleSupernode {
			step(t, m, Load{Rho: rho, Leaves: leaves, At: now})
		}
		m.Tick(now)
		for _, d := range m.Ready() {
			if d.IsProposal() {
				step(t, m, RoleChanged{Role: d.Target, At: now})
				changes = append(changes, now)
			}
		}
	}
	if got := m.Status().RoleChanges; got != len(changes) {
		t.Fatalf("status counts %d role changes, the caller committed %d", got, len(changes))
	}
	return changes
}

// Inputs oscillating around the thresholds must not make the role flap:
// every role lasts at least MinDwell, and fast oscillation causes no change.
func TestNoFlapping(t *testing.T) {
	cfg := DefaultConfig()
	const week = 7 * 24 * time.Hour
	tick := time.Minute // one heartbeat a minute: 10 samples per DemandWindow
	noise := seeded(99)
	square := func(period time.Duration, hi, lo float64) signal {
		return func(now time.Time, _ Role) (float64, float64) {
			if now.Sub(t0)%period < period/2 {
				return hi, 0.3
			}
			return lo, 0.3
		}
	}
	tests := []struct {
		name       string
		sig        signal
		maxChanges int
		minChanges int
	}{
		{
			name: "alternating just around the promote threshold",
			sig: func(now time.Time, _ Role) (float64, float64) {
				if now.Sub(t0)/tick%2 == 0 {
					return cfg.PromoteRho - 0.01, 0.3
				}
				return cfg.PromoteRho + 0.01, 0.3
			},
		},
		{
			name: "fill alternating around its promote threshold",
			sig: func(now time.Time, _ Role) (float64, float64) {
				if now.Sub(t0)/tick%2 == 0 {
					return 0.5, cfg.PromoteFill - 0.02
				}
				return 0.5, cfg.PromoteFill + 0.02
			},
		},
		{
			name: "noise spanning both thresholds",
			sig:  func(time.Time, Role) (float64, float64) { return 0.1 + 0.9*noise.Float64(), 0.3 },
		},
		{
			name: "inside the hysteresis band",
			sig: func(now time.Time, _ Role) (float64, float64) {
				return 0.55 + 0.2*math.Sin(float64(now.Sub(t0))/float64(time.Hour)), 0.5
			},
		},
		{
			// Load that one supernode cannot carry but two can: the node
			// promotes once and stays. A single threshold at 0.6 would flap
			// (ρ 1.0 → promote → 0.5 → demote → 1.0 ...).
			name: "feedback: promoting absorbs the load",
			sig: func(now time.Time, role Role) (float64, float64) {
				n := 1.0
				if role == RoleSupernode {
					n = 2
				}
				return (1.0 + 0.1*math.Sin(float64(now.Sub(t0))/float64(7*time.Minute))) / n, 0.3
			},
			minChanges: 1, maxChanges: 1,
		},
		{
			name:       "square wave slower than the window, faster than the dwell",
			sig:        square(40*time.Minute, 0.95, 0.05),
			minChanges: 2, maxChanges: int(week / cfg.MinDwell),
		},
		{
			name:       "square wave slower than the dwell",
			sig:        square(6*time.Hour, 0.95, 0.05),
			minChanges: 2, maxChanges: int(week/(3*time.Hour)) + 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			changes := runOne(t, cfg, week, tick, 1, tt.sig)
			if len(changes) < tt.minChanges || len(changes) > tt.maxChanges {
				t.Errorf("%d role changes in a week, want %d..%d", len(changes), tt.minChanges, tt.maxChanges)
			}
			prev := t0 // the node starts as a leaf at t0
			for i, c := range changes {
				// MinDwell holds after every role change; the starting
				// role is bounded by MinUptime instead.
				if i > 0 && c.Sub(prev) < cfg.MinDwell {
					t.Errorf("change %d after %v in the previous role, want ≥ MinDwell %v", i, c.Sub(prev), cfg.MinDwell)
				}
				prev = c
			}
		})
	}
}
