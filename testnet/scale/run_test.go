package scale

import (
	"context"
	"testing"
	"time"
)

// Both designs carry out a small schedule on the mocknet: lookups succeed,
// remote lookups pay the drawn links' latency, traffic is counted per role, and every upkeep
// task is measured. 40 nodes, ~40 s each.
func TestRunDesignsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("40 mocknet nodes per design")
	}
	c, err := DefaultConfig()
	if err != nil {
		t.Fatal(err)
	}
	c.N, c.Speedup, c.Objects, c.HoldPerPeer = 40, 100, 40, 3
	c.Warmup, c.Measure, c.Quiet = 2*time.Second, 10*time.Second, 4*time.Second
	c.LookupRate, c.PublishRate = 5, 0.5
	c.Grace = 5 * time.Second
	s, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	rtt, err := LoadRTT()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []design{newOverlay(), newFlat()} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		run, err := RunDesign(ctx, s, rtt, d, t.Logf)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", d.name(), err)
		}
		st := Analyze(run, rtt.MedianMS())
		if st.Counted < 20 || st.Success < 0.9 {
			t.Errorf("%s: success %v over %d lookups (%v)", d.name(), st.Success, st.Counted, st.Outcomes)
		}
		// With 40 nodes a kad-dht record lives on the 20 closest, half the
		// network, and a lookup often answers from the local store: check
		// the slow end for the link latency.
		if st.LatencyMS.P90 < 1 {
			t.Errorf("%s: p90 %v ms: the link latency is missing", d.name(), st.LatencyMS.P90)
		}
		roles := []string{"dht"}
		if d.name() == DesignOverlay {
			roles = []string{"supernode", "leaf"}
		}
		for _, role := range roles {
			if st.MeasureTraffic[role].BytesPerS <= 0 {
				t.Errorf("%s: no traffic counted for %s: %+v", d.name(), role, st.MeasureTraffic)
			}
		}
		if len(st.Upkeep) != 2 || st.Found == 0 {
			t.Errorf("%s: upkeep %d tasks, %d of %d publishes found", d.name(), len(st.Upkeep), st.Found, st.Publishes)
		}
	}
}
