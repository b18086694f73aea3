package election

import (
	"math/rand/v2"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func seeded(a uint64) *rand.Rand { return rand.New(rand.NewPCG(a, a^0x9e3779b97f4a7c15)) }

func newTestMachine(t testing.TB, cfg Config, now time.Time, seed uint64) *Machine {
	t.Helper()
	m, err := New(cfg, now, seeded(seed))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func step(t testing.TB, m *Machine, o Observation) {
	t.Helper()
	if err := m.Step(o); err != nil {
		t.Fatalf("Step(%T): %v", o, err)
	}
}

// measured is a node's set of measurements; refresh re-feeds them at now
// (measurements are trusted only for a TTL, so long runs refresh them).
type measured struct {
	sessionStart time.Time
	upload       int64
	reachable    bool
	headroom     float64
}

func goodNode(sessionStart time.Time) measured {
	return measured{sessionStart: sessionStart, upload: 64 << 10, reachable: true, headroom: 0.5}
}

func (x measured) refresh(t testing.TB, m *Machine, now time.Time) {
	t.Helper()
	step(t, m, Uptime{SessionStart: x.sessionStart, At: now})
	by := ""
	if x.reachable {
		by = "dialer"
	}
	step(t, m, Reachability{Reachable: x.reachable, VerifiedBy: by, At: now})
	step(t, m, Bandwidth{Upload: x.upload, At: now})
	step(t, m, Resources{CPU: x.headroom, Mem: x.headroom, At: now})
}

func criterion(t testing.TB, st Status, name string) Criterion {
	t.Helper()
	for _, c := range st.Criteria {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no criterion %q in %+v", name, st.Criteria)
	return Criterion{}
}

// drain returns the decisions and the proposals among them.
func drain(m *Machine) (all, proposals []Decision) {
	all = m.Ready()
	for _, d := range all {
		if d.IsProposal() {
			proposals = append(proposals, d)
		}
	}
	return all, proposals
}

func countKind(ds []Decision, k Kind) int {
	n := 0
	for _, d := range ds {
		if d.Kind == k {
			n++
		}
	}
	return n
}
