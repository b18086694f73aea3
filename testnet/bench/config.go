package bench

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Config sets the size of a run. FullConfig, QuickConfig and SmokeConfig
// are the three the command offers.
type Config struct {
	Mode   string `json:"mode"`
	Rounds int    `json:"rounds"` // interleaved rounds per measurement (≥ 3)
	// P1, P2, P4: network sizes N (S = N/5 supernodes).
	Ns      []int `json:"n"`
	Objects int   `json:"objects"` // objects looked up, one holder each
	Lookups int   `json:"lookups"` // lookups per variant and side per round
	Pairs   int   `json:"pairs"`   // P2: announce→find pairs per side per round
	// P4: wait after the process is ready, then measure over the window.
	IdleSettleS float64 `json:"idle_settle_s"`
	IdleWindowS float64 `json:"idle_window_s"`
	// growth and P3: supernode counts, the one P3 is taken at, lookups per
	// side per round, ordinary leaves besides the load generator's.
	GrowthS       []int `json:"growth_s"`
	P3S           int   `json:"p3_s"`
	GrowthLookups int   `json:"growth_lookups"`
	GrowthLeaves  int   `json:"growth_leaves"`
	// P3: client workers W on both sides, CIDs per batch, seconds per run.
	Workers int     `json:"workers"`
	Batch   int     `json:"batch"`
	LoadS   float64 `json:"load_s"`
	// P5: record counts for the overlay and kad-dht, and for opentracker.
	StoreSizes        []int `json:"store_sizes"`
	TrackerStoreSizes []int `json:"tracker_store_sizes"`
	StoreHolders      int   `json:"store_holders"` // holders per object
	// Phases run (nil: all): "lookup" (P1, P2, P4 at every N), "growth"
	// (growth and P3 at every S), "store" (P5). A partial run is for
	// working on one row; it never writes the docs page.
	Phases []string `json:"phases,omitempty"`
}

// PhaseNames are the phases a run can be limited to.
var PhaseNames = []string{"lookup", "growth", "store"}

// Runs reports whether phase is part of the run.
func (c *Config) Runs(phase string) bool {
	if len(c.Phases) == 0 {
		return true
	}
	for _, p := range c.Phases {
		if p == phase {
			return true
		}
	}
	return false
}

// FullConfig is `make bench` (≤ 20 min on 2 cores). P4's window is 60 s:
// /proc/PID/stat counts CPU in 10 ms ticks, and an idle leaf uses a few
// tens of ms a minute, so a 30 s window held one or two ticks.
func FullConfig() Config {
	return Config{Mode: "full", Rounds: 3, Ns: []int{50, 100}, Objects: 50, Lookups: 300, Pairs: 20,
		IdleSettleS: 5, IdleWindowS: 60, GrowthS: []int{5, 20, 50}, P3S: 20, GrowthLookups: 150, GrowthLeaves: 8,
		Workers: 16, Batch: 64, LoadS: 8, StoreSizes: []int{10_000, 100_000, 1_000_000},
		TrackerStoreSizes: []int{10_000, 100_000}, StoreHolders: 10}
}

// QuickConfig is `make bench QUICK=1` (≤ 3 min). It uses W = 8 workers:
// a 64-CID batch announce takes seconds at W = 16 (see the report), and
// the batch run waits for the announces in flight.
func QuickConfig() Config {
	return Config{Mode: "quick", Rounds: 3, Ns: []int{50, 100}, Objects: 20, Lookups: 50, Pairs: 5,
		IdleSettleS: 2, IdleWindowS: 5, GrowthS: []int{5, 20, 50}, P3S: 20, GrowthLookups: 30, GrowthLeaves: 8,
		Workers: 8, Batch: 64, LoadS: 1.5, StoreSizes: []int{10_000, 100_000},
		TrackerStoreSizes: []int{10_000}, StoreHolders: 10}
}

// SmokeConfig is the test's: tiny networks, a few seconds; its numbers
// mean nothing.
func SmokeConfig() Config {
	return Config{Mode: "smoke", Rounds: 3, Ns: []int{10}, Objects: 4, Lookups: 6, Pairs: 2,
		IdleSettleS: 0.2, IdleWindowS: 0.5, GrowthS: []int{2}, P3S: 2, GrowthLookups: 4, GrowthLeaves: 4,
		Workers: 2, Batch: 64, LoadS: 0.3, StoreSizes: []int{1000}, TrackerStoreSizes: []int{1000}, StoreHolders: 10}
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Validate reports the first unusable field.
func (c *Config) Validate() error {
	switch {
	case c.Rounds < 1:
		return fmt.Errorf("bench config: rounds %d < 1", c.Rounds)
	case len(c.Ns) == 0 || len(c.GrowthS) == 0 || len(c.StoreSizes) == 0:
		return fmt.Errorf("bench config: no N, growth S or store size")
	case c.Objects < 1 || c.Lookups < 1 || c.Pairs < 1 || c.GrowthLookups < 1:
		return fmt.Errorf("bench config: objects, lookups, pairs must be ≥ 1")
	case c.Workers < 1 || c.Workers > 250 || c.Batch < 1 || c.LoadS <= 0:
		return fmt.Errorf("bench config: workers in 1..250, batch ≥ 1, load_s > 0")
	case c.IdleWindowS <= 0 || c.IdleSettleS < 0:
		return fmt.Errorf("bench config: idle window must be > 0")
	case c.GrowthLeaves < 2 || c.StoreHolders < 1:
		return fmt.Errorf("bench config: growth_leaves ≥ 2, store_holders ≥ 1")
	}
	for _, p := range c.Phases {
		if !slices.Contains(PhaseNames, p) {
			return fmt.Errorf("bench config: unknown phase %q (phases: %s)", p, strings.Join(PhaseNames, ", "))
		}
	}
	for _, n := range c.Ns {
		if n < 10 {
			return fmt.Errorf("bench config: N = %d < 10 (S = N/5 supernodes, r = 8)", n)
		}
	}
	for _, n := range c.Ns {
		if n < 10 || n > 200 {
			return fmt.Errorf("bench config: N = %d outside 10..200 (file descriptors)", n)
		}
	}
	found := false
	for _, s := range c.GrowthS {
		if s < 1 || s > 100 {
			return fmt.Errorf("bench config: growth S = %d outside 1..100", s)
		}
		found = found || s == c.P3S
	}
	if !found {
		return fmt.Errorf("bench config: p3_s %d is not among growth_s %v", c.P3S, c.GrowthS)
	}
	for _, m := range append(append([]int{}, c.StoreSizes...), c.TrackerStoreSizes...) {
		if m < c.StoreHolders || m > 10_000_000 {
			return fmt.Errorf("bench config: store size %d", m)
		}
	}
	return nil
}
