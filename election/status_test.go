package election

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestStatusJSON(t *testing.T) {
	cfg := LocalConfig()
	m := newTestMachine(t, cfg, t0.Add(-time.Minute), 4)
	goodNode(t0.Add(-time.Hour)).refresh(t, m, t0)
	step(t, m, Supernodes{Reachable: 0, At: t0})
	var now time.Time
	for now = t0; m.Status().Pending == nil; now = now.Add(time.Second) {
		m.Tick(now)
	}
	b, err := json.Marshal(m.Status())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"now", "role", "since", "role_changes", "dwell_until", "eligible", "criteria", "demand", "score", "pending", "last_decision", "failures"} {
		if _, ok := got[k]; !ok {
			t.Errorf("status JSON lacks %q: %s", k, b)
		}
	}
	if got["role"] != "leaf" {
		t.Errorf("role = %v", got["role"])
	}
	crit := got["criteria"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "value", "threshold", "unit", "known", "ok"} {
		if _, ok := crit[k]; !ok {
			t.Errorf("criterion lacks %q: %v", k, crit)
		}
	}
	dem := got["demand"].(map[string]any)
	if dem["no_supernode"] != true || dem["condition"] != "empty" || dem["supernodes"] != 0.0 {
		t.Errorf("demand %v", dem)
	}
	for _, k := range []string{"rho", "fill", "reporters"} {
		if _, ok := dem[k]; !ok {
			t.Errorf("demand lacks %q", k)
		}
	}
	pend := got["pending"].(map[string]any)
	if pend["target"] != "supernode" || pend["due"] == nil || pend["cause"] != "empty" {
		t.Errorf("pending %v", pend)
	}
	last := got["last_decision"].(map[string]any)
	if last["kind"] != "scheduled" || last["reason"] == "" || last["at"] == nil {
		t.Errorf("last decision %v", last)
	}

	// The human rendering carries the same facts.
	s := m.Status().String()
	for _, want := range []string{"role:", "leaf", "eligible:   yes", "reachable: ok", "upload", "demand:     empty", "pending:    become supernode", "last:       scheduled"} {
		if !strings.Contains(s, want) {
			t.Errorf("String() lacks %q:\n%s", want, s)
		}
	}

	// Fresh machine: nulls, not missing keys, and no NaN anywhere.
	b, err = json.Marshal(newTestMachine(t, cfg, t0, 1).Status())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"pending":null`, `"last_decision":null`, `"supernodes":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("fresh status lacks %s: %s", want, b)
		}
	}
}

func TestSupernodeStatus(t *testing.T) {
	cfg := DefaultConfig()
	m := newTestMachine(t, cfg, t0, 1)
	step(t, m, RoleChanged{Role: RoleSupernode, At: t0})
	step(t, m, Load{Rho: 0.2, Leaves: 10, At: t0})
	step(t, m, Demand{From: "sn-1", Rho: 0.4, Leaves: 20, MaxLeaves: 50, At: t0})
	st := m.Status()
	d := st.Demand
	if d.OwnRho == nil || *d.OwnRho != 0.2 || d.Reporters != 1 || d.Sole {
		t.Errorf("demand %+v", d)
	}
	if !approx(d.Rho, 0.3) || !approx(d.Fill, 0.3) {
		t.Errorf("ρ %v fill %v, want 0.3 and 0.3 (own load included)", d.Rho, d.Fill)
	}
	if d.ProjectedRho == nil || !approx(*d.ProjectedRho, 0.6) || !approx(*d.ProjectedFill, 0.6) {
		t.Errorf("projection %+v", d)
	}
	if _, err := json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.String(), "role:       supernode") {
		t.Errorf("String:\n%s", st)
	}
}

func TestRoleText(t *testing.T) {
	for _, r := range []Role{RoleLeaf, RoleSupernode} {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Role
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("%v round trip: %v %v", r, back, err)
		}
	}
	var r Role
	if err := r.UnmarshalText([]byte("boss")); err == nil {
		t.Error("accepted an unknown role")
	}
	if _, err := Role(9).MarshalText(); err == nil {
		t.Error("marshalled an unknown role")
	}
	if !strings.Contains(Decision{Kind: KindPromote, Target: RoleSupernode, At: t0, Reason: "r"}.String(), "promote → supernode") {
		t.Error("Decision.String")
	}
}

func approx(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
