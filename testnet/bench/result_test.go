package bench

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPercentileAndMedian(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ p, want float64 }{{0, 1}, {20, 1}, {50, 3}, {99, 5}, {100, 5}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("p%.0f = %v, want %v", c.p, got, c.want)
		}
	}
	if got := median([]float64{4, 1, 3, 2}); got != 2.5 {
		t.Errorf("median = %v, want 2.5", got)
	}
	if !math.IsNaN(percentile(nil, 50)) || !math.IsNaN(median(nil)) {
		t.Error("no samples must give NaN")
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its input in place")
	}
}

// TestCollector: per-round ratios are ours/baseline, the row holds their
// median and range, and a round without a usable baseline only counts
// failures.
func TestCollector(t *testing.T) {
	c := newCollector()
	s := sample{id: "P3", variant: "v", metric: "m" + HigherIsBetter, baseline: "b", unit: "records/s", n: 20, samples: 9}
	c.add(s, 100, 1000, 0, 0)
	c.add(s, 300, 1000, 1, 0)
	c.add(s, 200, 500, 0, 2)
	c.add(s, 100, 0, 0, 5) // no baseline value: not a round
	c.add(s, math.NaN(), 100, 3, 0)
	c.add(sample{id: "P1", variant: "w", metric: "lookup p50", baseline: "b", unit: "ms", n: 1}, math.NaN(), 1, 1, 0)
	rows := c.finish()
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1 (a row with no complete round is left out): %+v", len(rows), rows)
	}
	r := rows[0]
	if r.Rounds != 3 || r.Ratio != 0.3 || r.RatioMin != 0.1 || r.RatioMax != 0.4 || r.Ours != 200 || r.BaselineValue != 1000 {
		t.Errorf("row %+v", r)
	}
	if r.OursFailures != 4 || r.BaselineFailures != 7 || r.Samples != 9 {
		t.Errorf("failures %d/%d, samples %d", r.OursFailures, r.BaselineFailures, r.Samples)
	}
	if !isThroughput(r) || shortMetric(r.Metric) != "m" {
		t.Errorf("throughput marking of %q", r.Metric)
	}
}

func validReport() *Report {
	rep := &Report{Git: "abc", Machine: Machine{CPUs: 2, LoadAvg: []float64{0.5}}}
	for _, id := range RequiredIDs {
		rep.Rows = append(rep.Rows, Row{ID: id, Variant: "v", Metric: "m", Ours: 2, Baseline: "b", BaselineValue: 1,
			Ratio: 2, RatioMin: 1.5, RatioMax: 3, Unit: "ms", N: 10, Rounds: 3, RatioRounds: []float64{1.5, 2, 3}})
	}
	return rep
}

func TestValidate(t *testing.T) {
	if err := validReport().Validate(); err != nil {
		t.Fatalf("valid report: %v", err)
	}
	for name, breakIt := range map[string]func(*Report){
		"no git":            func(r *Report) { r.Git = "" },
		"no load average":   func(r *Report) { r.Machine.LoadAvg = nil },
		"no P5":             func(r *Report) { r.Rows = r.Rows[:4] },
		"no baseline value": func(r *Report) { r.Rows[0].BaselineValue = 0 },
		"no baseline name":  func(r *Report) { r.Rows[1].Baseline = "" },
		"ratio outside":     func(r *Report) { r.Rows[2].RatioMax = 1.9 },
		"rounds mismatch":   func(r *Report) { r.Rows[3].Rounds = 2 },
	} {
		rep := validReport()
		breakIt(rep)
		if err := rep.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
	}
}

func TestRound4AndSizes(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{123456, 123500}, {0.00123456, 0.001235}, {2.0, 2}, {0, 0}} {
		if got := round4(c.in); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("round4(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	for n, want := range map[int]string{10_000: "10k", 1_000_000: "1M", 1500: "1500", 100_000: "100k"} {
		if got := sizeName(n); got != want {
			t.Errorf("sizeName(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestConfigsValidate(t *testing.T) {
	for _, c := range []Config{FullConfig(), QuickConfig(), SmokeConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", c.Mode, err)
		}
		if c.Rounds < 3 {
			t.Errorf("%s: %d rounds, the issue asks for ≥ 3", c.Mode, c.Rounds)
		}
	}
	bad := QuickConfig()
	bad.P3S = 7
	if bad.Validate() == nil {
		t.Error("P3S outside GrowthS accepted")
	}
	bad = QuickConfig()
	bad.Ns = []int{500}
	if bad.Validate() == nil {
		t.Error("N = 500 accepted (file descriptors)")
	}
}

// TestWriteReport: a report becomes bench.json (which reads back and
// validates), bench.md with one table line per row, a PNG plot and the
// performance page with the machine, load average and min–max.
func TestWriteReport(t *testing.T) {
	rep := validReport()
	rep.Rows[2].Metric = "records/s" + HigherIsBetter
	rep.Machine.LoadAvg = []float64{0.5, 1.5, 1.0}
	rep.Config = QuickConfig()
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs", "performance.md")
	if err := writeReport(rep, Options{Out: dir, Docs: docs}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(filepath.Join(dir, "bench.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := back.Validate(); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, "bench.md"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(md), "\n| "); lines != len(rep.Rows)+1 { // header + rows
		t.Errorf("bench.md has %d table lines, want %d:\n%s", lines, len(rep.Rows)+1, md)
	}
	if !strings.Contains(string(md), "*(higher is better)*") {
		t.Error("bench.md does not mark the throughput row")
	}
	png, err := os.ReadFile(filepath.Join(dir, "bench.png"))
	if err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("bench.png: %v (%d bytes)", err, len(png))
	}
	page, err := os.ReadFile(docs)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Commit:** `abc`", "min 0.50, median 1.00, max 1.50", "| 1.500–3.000 |", "**Machine:** 2 CPUs"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("performance page lacks %q:\n%s", want, page)
		}
	}
}
