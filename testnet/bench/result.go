package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
)

// Report is bench.json.
type Report struct {
	Git         string   `json:"git"`  // commit (short), "-dirty" if the tree had changes
	Date        string   `json:"date"` // RFC 3339, start of the run
	Mode        string   `json:"mode"` // full, quick or smoke
	WallSeconds float64  `json:"wall_seconds"`
	Machine     Machine  `json:"machine"`
	Config      Config   `json:"config"`
	Rows        []Row    `json:"rows"`
	Errors      []string `json:"errors,omitempty"` // measurements that failed (their rows are missing or have fewer rounds)
}

// Machine describes where the run happened.
type Machine struct {
	CPUs int `json:"cpus"`
	// LoadAvg: the 1-minute load average sampled every LoadEvery seconds
	// during the run (first sample at the start, last at the end).
	LoadAvg     []float64 `json:"load_avg"`
	LoadEvery   float64   `json:"load_every_s"`
	Model       string    `json:"model,omitempty"`
	MemGB       float64   `json:"mem_gb,omitempty"`
	Kernel      string    `json:"kernel,omitempty"`
	Go          string    `json:"go"`
	Opentracker string    `json:"opentracker,omitempty"`
}

// Row is one comparison: one id, variant, metric and baseline.
type Row struct {
	ID            string  `json:"id"`
	Variant       string  `json:"variant"`
	Metric        string  `json:"metric"`
	Ours          float64 `json:"ours"` // median over rounds
	Baseline      string  `json:"baseline"`
	BaselineValue float64 `json:"baseline_value"` // median over rounds
	Ratio         float64 `json:"ratio"`          // median over rounds of ours/baseline
	RatioMin      float64 `json:"ratio_min"`
	RatioMax      float64 `json:"ratio_max"`
	Unit          string  `json:"unit"`
	N             int     `json:"n"`      // nodes in the measured network (P5: 1 supernode)
	Rounds        int     `json:"rounds"` // rounds with a value on both sides
	// Samples: operations behind one side's value in one round (lookups,
	// announces, records, 1 for a single reading).
	Samples int `json:"samples,omitempty"`
	// Failures: failed operations over every round, ours and baseline
	// (a lookup that found nobody, an announce that errored).
	OursFailures     int       `json:"ours_failures,omitempty"`
	BaselineFailures int       `json:"baseline_failures,omitempty"`
	OursRounds       []float64 `json:"ours_rounds"`
	BaselineRounds   []float64 `json:"baseline_rounds"`
	RatioRounds      []float64 `json:"ratio_rounds"`
}

// HigherIsBetter marks throughput rows (their metric says so).
const HigherIsBetter = " (higher is better)"

type rowKey struct{ id, variant, metric, baseline string }

// collector gathers per-round values; rows keep the order of first use.
type collector struct {
	mu    sync.Mutex
	order []rowKey
	rows  map[rowKey]*Row
}

func newCollector() *collector { return &collector{rows: make(map[rowKey]*Row)} }

// sample describes one row's round value on one side.
type sample struct {
	id, variant, metric, baseline, unit string
	n, samples                          int
}

// add records one round: ours and the baseline's value. A round where a
// side has no value (NaN, or ≤ 0 for a divisor) only counts failures.
func (c *collector) add(s sample, ours, base float64, oursFail, baseFail int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := rowKey{s.id, s.variant, s.metric, s.baseline}
	r := c.rows[k]
	if r == nil {
		r = &Row{ID: s.id, Variant: s.variant, Metric: s.metric, Baseline: s.baseline, Unit: s.unit, N: s.n,
			OursRounds: []float64{}, BaselineRounds: []float64{}, RatioRounds: []float64{}}
		c.rows[k] = r
		c.order = append(c.order, k)
	}
	r.Samples = max(r.Samples, s.samples)
	r.OursFailures += oursFail
	r.BaselineFailures += baseFail
	if math.IsNaN(ours) || math.IsNaN(base) || math.IsInf(ours, 0) || math.IsInf(base, 0) || base <= 0 {
		return
	}
	r.OursRounds = append(r.OursRounds, ours)
	r.BaselineRounds = append(r.BaselineRounds, base)
	r.RatioRounds = append(r.RatioRounds, ours/base)
}

// finish computes medians and ranges; rows without any complete round are
// left out.
func (c *collector) finish() []Row {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Row
	for _, k := range c.order {
		r := *c.rows[k]
		if len(r.RatioRounds) == 0 {
			continue
		}
		r.Rounds = len(r.RatioRounds)
		r.Ours = round4(median(r.OursRounds))
		r.BaselineValue = round4(median(r.BaselineRounds))
		r.Ratio = round4(median(r.RatioRounds))
		r.RatioMin = round4(slices.Min(r.RatioRounds))
		r.RatioMax = round4(slices.Max(r.RatioRounds))
		for i := range r.RatioRounds {
			r.OursRounds[i], r.BaselineRounds[i], r.RatioRounds[i] = round4(r.OursRounds[i]), round4(r.BaselineRounds[i]), round4(r.RatioRounds[i])
		}
		out = append(out, r)
	}
	// Rows by id in RequiredIDs' order, each id's rows in measurement order.
	rank := func(id string) int {
		if i := slices.Index(RequiredIDs, id); i >= 0 {
			return i
		}
		return len(RequiredIDs)
	}
	slices.SortStableFunc(out, func(a, b Row) int { return rank(a.ID) - rank(b.ID) })
	return out
}

// round4 keeps four significant digits (enough for a benchmark, readable
// in JSON).
func round4(x float64) float64 {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	e := math.Pow(10, 3-math.Floor(math.Log10(math.Abs(x))))
	return math.Round(x*e) / e
}

// RequiredIDs must each have at least one row in a well-formed report.
var RequiredIDs = []string{"P1", "P2", "P3", "P4", "P5", "growth"}

// ErrMalformed is wrapped by every Validate failure.
var ErrMalformed = errors.New("bench report malformed")

// Validate checks that r has the schema's fields filled: a commit, the
// machine, rows for every required id, and in each row a baseline value,
// a ratio equal to ours/baseline within rounding, and min ≤ ratio ≤ max.
func (r *Report) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
	}
	if r.Git == "" {
		return bad("no git commit")
	}
	if r.Machine.CPUs < 1 || len(r.Machine.LoadAvg) == 0 {
		return bad("machine %+v lacks cpus or load_avg", r.Machine)
	}
	seen := map[string]int{}
	for i, row := range r.Rows {
		switch {
		case row.ID == "" || row.Variant == "" || row.Metric == "" || row.Baseline == "" || row.Unit == "":
			return bad("row %d has an empty id, variant, metric, baseline or unit: %+v", i, row)
		case !(row.BaselineValue > 0) || !(row.Ours >= 0):
			return bad("row %d (%s %s %s): ours %v, baseline_value %v", i, row.ID, row.Variant, row.Metric, row.Ours, row.BaselineValue)
		case row.Rounds < 1 || len(row.RatioRounds) != row.Rounds:
			return bad("row %d (%s %s): %d rounds, %d ratios", i, row.ID, row.Variant, row.Rounds, len(row.RatioRounds))
		case !(row.RatioMin <= row.Ratio && row.Ratio <= row.RatioMax):
			return bad("row %d (%s %s): ratio %v outside [%v, %v]", i, row.ID, row.Variant, row.Ratio, row.RatioMin, row.RatioMax)
		case row.N < 1:
			return bad("row %d (%s %s): n = %d", i, row.ID, row.Variant, row.N)
		}
		seen[row.ID]++
	}
	for _, id := range RequiredIDs {
		if seen[id] == 0 {
			return bad("no %s row", id)
		}
	}
	return nil
}

// ReadReport reads and decodes bench.json (it does not validate).
func ReadReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
