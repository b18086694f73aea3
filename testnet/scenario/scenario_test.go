package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/scenarios"
)

func TestBuiltins(t *testing.T) {
	if got := BuiltinNames(); !reflect.DeepEqual(got, []string{"default", "smoke"}) {
		t.Fatalf("BuiltinNames = %v", got)
	}
	for _, c := range []struct {
		name           string
		minNodes, maxN int
		maxDur         time.Duration
	}{
		{"default", 10, 16, 100 * time.Second}, // ≤ 2 min including start-up
		{"smoke", 4, 8, 45 * time.Second},
	} {
		s, err := Builtin(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if s.Name != c.name || s.NodeCount < c.minNodes || s.NodeCount > c.maxN || s.Duration.Duration > c.maxDur {
			t.Fatalf("%s: %d nodes, %v", c.name, s.NodeCount, s.Duration)
		}
		if len(s.NodeSpecs()) != s.NodeCount {
			t.Fatalf("%s: %d specs", c.name, len(s.NodeSpecs()))
		}
		// Churn, and an election: some supernode to start with, more nodes
		// than the supernodes' leaf capacity, and eligible candidates that
		// reach the minimum uptime well within the run.
		if !s.Churn.Enabled || len(s.Churn.Targeted.At) == 0 {
			t.Fatalf("%s: no churn", c.name)
		}
		maxLeaves, _ := strconv.Atoi(s.Election.MaxLeaves)
		minUpload, _ := strconv.ParseInt(s.Election.MinUpload, 10, 64)
		minUptime, _ := time.ParseDuration(s.Election.MinUptime)
		supers, eligible := 0, 0
		for _, n := range s.NodeSpecs() {
			switch {
			case n.Role == RoleSupernode:
				supers++
			case n.Role == RoleAuto && n.UploadBps >= minUpload:
				eligible++
			}
		}
		if supers == 0 || eligible == 0 || s.NodeCount-supers <= supers*maxLeaves || minUptime >= s.Duration.Duration/2 {
			t.Fatalf("%s: no election would happen (%d supernodes, %d eligible, max %d leaves, min uptime %v)",
				c.name, supers, eligible, maxLeaves, minUptime)
		}
		// Canonical form re-parses to the same scenario.
		again, err := Parse(s.Canonical())
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("%s: canonical round trip: %v", c.name, err)
		}
		if s.Hash() != again.Hash() || len(s.Hash()) != 64 {
			t.Fatal("hash")
		}
	}
	if _, err := Builtin("nope"); err == nil {
		t.Fatal("unknown built-in accepted")
	}
	if _, err := Builtin("../x"); err == nil {
		t.Fatal("path accepted as a built-in name")
	}
}

func TestOpenAndLoad(t *testing.T) {
	s, err := Open("smoke")
	if err != nil || s.Name != "smoke" {
		t.Fatal(s, err)
	}
	data, _ := scenarios.FS.ReadFile("default.json")
	p := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(p, bytes.Replace(data, []byte(`"name": "default"`), []byte(`"name": "mine"`), 1), 0o644)
	s, err = Open(p)
	if err != nil || s.Name != "mine" {
		t.Fatal(s, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// mutate applies f to the default scenario as a generic JSON map and parses
// the result.
func mutate(t *testing.T, f func(m map[string]any)) error {
	t.Helper()
	data, _ := scenarios.FS.ReadFile("default.json")
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	f(m)
	b, _ := json.Marshal(m)
	_, err := Parse(b)
	return err
}

func sub(m map[string]any, k string) map[string]any { return m[k].(map[string]any) }
func profile(m map[string]any, i int) map[string]any {
	return m["profiles"].([]any)[i].(map[string]any)
}

func TestValidationNamesField(t *testing.T) {
	cases := []struct {
		field string
		f     func(m map[string]any)
	}{
		{"bogus", func(m map[string]any) { m["bogus"] = 1 }},
		{"extra", func(m map[string]any) { sub(m, "churn")["extra"] = true }},
		{"name", func(m map[string]any) { m["name"] = " " }},
		{"duration", func(m map[string]any) { m["duration"] = "ninety" }},
		{"duration", func(m map[string]any) { m["duration"] = 90 }},
		{"duration", func(m map[string]any) { m["duration"] = "none" }},
		{"duration", func(m map[string]any) { m["duration"] = "-5s" }},
		{"duration", func(m map[string]any) { delete(m, "duration") }},
		{"warmup", func(m map[string]any) { m["warmup"] = "2m" }},
		{"nodes", func(m map[string]any) { m["nodes"] = 13 }},
		{"nodes", func(m map[string]any) { m["nodes"] = 0 }},
		{"nodes", func(m map[string]any) { m["nodes"] = "twelve" }},
		{"profiles", func(m map[string]any) { m["profiles"] = []any{} }},
		{"profiles[1].name", func(m map[string]any) { profile(m, 1)["name"] = "seed" }},
		{"profiles[0].count", func(m map[string]any) { profile(m, 0)["count"] = -1 }},
		{"profiles[2].upload_bps", func(m map[string]any) { profile(m, 2)["upload_bps"] = 0 }},
		{"profiles[2].mttf", func(m map[string]any) { profile(m, 2)["mttf"] = "soon" }},
		{"profiles[2].mttr", func(m map[string]any) { profile(m, 2)["mttr"] = "0s" }},
		{"profiles[1].role", func(m map[string]any) { profile(m, 1)["role"] = "king" }},
		{"objects", func(m map[string]any) { m["objects"] = 0 }},
		{"zipf.s", func(m map[string]any) { sub(m, "zipf")["s"] = -1 }},
		{"zipf.v", func(m map[string]any) { sub(m, "zipf")["v"] = 0.5 }},
		{"initial_holders", func(m map[string]any) { m["initial_holders"] = 13 }},
		{"initial_holders", func(m map[string]any) { m["warmup"] = "0s" }},
		{"announce_rate", func(m map[string]any) { m["announce_rate"] = -1 }},
		{"lookup_rate", func(m map[string]any) { m["lookup_rate"] = -0.5 }},
		{"lookup_rate", func(m map[string]any) { m["lookup_rate"] = 1e9 }},
		{"lookup_timeout", func(m map[string]any) { m["lookup_timeout"] = "0s" }},
		{"churn.targeted.at[0]", func(m map[string]any) { sub(sub(m, "churn"), "targeted")["at"] = []any{"95s"} }},
		{"churn.targeted.at[0]", func(m map[string]any) { sub(sub(m, "churn"), "targeted")["at"] = []any{"5s"} }},
		{"churn.targeted.rate", func(m map[string]any) { sub(sub(m, "churn"), "targeted")["rate"] = -1 }},
		{"churn.targeted.restart_after", func(m map[string]any) { sub(sub(m, "churn"), "targeted")["restart_after"] = "x" }},
		{"churn.mass_failure.fraction", func(m map[string]any) { sub(sub(m, "churn"), "mass_failure")["fraction"] = 1.5 }},
		{"churn.mass_failure.at", func(m map[string]any) { sub(sub(m, "churn"), "mass_failure")["at"] = "90s" }},
		{"churn.mass_failure.restart_after", func(m map[string]any) { sub(sub(m, "churn"), "mass_failure")["restart_after"] = 3 }},
		{"election.min_uptime", func(m map[string]any) { sub(m, "election")["min_uptime"] = "15" }},
		{"election.min_upload", func(m map[string]any) { sub(m, "election")["min_upload"] = "1MB" }},
		{"election.max_leaves", func(m map[string]any) { sub(m, "election")["max_leaves"] = "0" }},
		{"election.max_leaves", func(m map[string]any) { sub(m, "election")["max_leaves"] = 4 }},
		{"max_events", func(m map[string]any) { m["max_events"] = HardMaxEvents + 1 }},
	}
	for _, c := range cases {
		err := mutate(t, c.f)
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidScenario) {
			t.Errorf("%s: error %v is not a FieldError wrapping ErrInvalidScenario", c.field, err)
			continue
		}
		// Type errors carry the decoder's dotted path ("election.max_leaves").
		if fe.Field != c.field || !strings.Contains(err.Error(), `"`+c.field+`"`) {
			t.Errorf("error %q names field %q, want %q", err, fe.Field, c.field)
		}
	}
}

func TestParseMisc(t *testing.T) {
	data, _ := scenarios.FS.ReadFile("smoke.json")
	for name, in := range map[string][]byte{
		"empty":    nil,
		"trailing": append(append([]byte{}, data...), []byte(` {}`)...),
		"syntax":   data[:len(data)/2],
		"array":    []byte(`[]`),
		"huge":     bytes.Repeat([]byte(" "), MaxScenarioBytes+1),
	} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalidScenario) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// "none" and optional durations.
	err := mutate(t, func(m map[string]any) {
		sub(sub(m, "churn"), "targeted")["restart_after"] = "none"
		sub(m, "churn")["mass_failure"] = nil
		m["max_events"] = 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if (&Scenario{}).EffectiveMaxEvents() != DefaultMaxEvents {
		t.Fatal("default max events")
	}
	if None().String() != "none" || D(time.Second).String() != "1s" || !None().IsNone() {
		t.Fatal("Duration strings")
	}
	var nilS *Scenario
	if err := nilS.Validate(); !errors.Is(err, ErrInvalidScenario) {
		t.Fatal(err)
	}
}

// FuzzParseScenario: Parse never panics; an accepted scenario re-encodes
// to a canonical form that parses to the same value.
func FuzzParseScenario(f *testing.F) {
	for _, n := range BuiltinNames() {
		data, _ := scenarios.FS.ReadFile(n + ".json")
		f.Add(data)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"duration":"none"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidScenario) {
				t.Fatalf("error does not wrap ErrInvalidScenario: %v", err)
			}
			return
		}
		again, err := Parse(s.Canonical())
		if err != nil {
			t.Fatalf("canonical form rejected: %v\n%s", err, s.Canonical())
		}
		if !bytes.Equal(again.Canonical(), s.Canonical()) {
			t.Fatalf("canonical form not stable")
		}
	})
}
