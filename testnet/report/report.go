package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/metrics"
)

// File names written by Write.
const (
	SummaryJSON       = "summary.json"
	SummaryText       = "summary.txt"
	LookupsCSV        = "lookups.csv"
	SupernodesCSV     = "supernodes.csv"
	BinsCSV           = "bins.csv"
	SupernodeCountCSV = "supernode_count.csv"
	SuccessPNG        = "success.png"
	LatencyPNG        = "latency.png"
	SupernodesPNG     = "supernodes.png"
	FailuresCSV       = "failures.csv"
)

// Files lists the paths written by Write, in the order above.
type Files []string

// Generate computes the Summary of log with opts and writes the report into
// dir (see Write).
func Generate(dir string, log *events.Log, opts metrics.Options) (*metrics.Summary, Files, error) {
	s, err := metrics.Compute(log, opts)
	if err != nil {
		return nil, nil, err
	}
	files, err := Write(dir, log, s)
	return s, files, err
}

// Write writes every report file into dir (created if needed). s must be
// the Summary of log.
func Write(dir string, log *events.Log, s *metrics.Summary) (Files, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rows, err := metrics.LookupRows(log)
	if err != nil {
		return nil, err
	}
	var files Files
	steps := []struct {
		name  string
		write func(io.Writer) error
	}{
		{SummaryJSON, func(w io.Writer) error {
			e := json.NewEncoder(w)
			e.SetIndent("", "  ")
			return e.Encode(s)
		}},
		{SummaryText, func(w io.Writer) error { return WriteText(w, s) }},
		{LookupsCSV, func(w io.Writer) error { return writeLookups(w, rows) }},
		{SupernodesCSV, func(w io.Writer) error { return writeSupernodeSamples(w, log) }},
		{BinsCSV, func(w io.Writer) error { return writeBins(w, s) }},
		{SupernodeCountCSV, func(w io.Writer) error { return writeSeries(w, s) }},
		{FailuresCSV, func(w io.Writer) error { return writeFailures(w, s) }},
		{SuccessPNG, func(w io.Writer) error { return plotSuccess(w, s) }},
		{LatencyPNG, func(w io.Writer) error { return plotLatency(w, s) }},
		{SupernodesPNG, func(w io.Writer) error { return plotSupernodes(w, s) }},
	}
	for _, st := range steps {
		p := filepath.Join(dir, st.name)
		if err := writeFile(p, st.write); err != nil {
			return files, fmt.Errorf("report: %s: %w", st.name, err)
		}
		files = append(files, p)
	}
	return files, nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func writeCSV(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := cw.WriteAll(rows); err != nil {
		return err
	}
	return cw.Error()
}

func writeLookups(w io.Writer, rows []metrics.LookupRow) error {
	out := make([][]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, []string{
			ff(r.Issued.Seconds()), ff(r.Done.Seconds()), strconv.FormatUint(r.OpID, 10),
			strconv.Itoa(r.Node), strconv.Itoa(r.Object), r.Status,
			ff(float64(r.Latency) / 1e6), strconv.Itoa(r.Holders), strconv.Itoa(r.HoldersAlive),
			r.Outcome, strconv.FormatBool(r.Outcome == metrics.OutcomeSuccess), strconv.FormatBool(r.Answerable),
		})
	}
	return writeCSV(w, []string{"issued_s", "done_s", "op_id", "node", "object", "status", "latency_ms",
		"holders", "holders_alive", "outcome", "success", "answerable"}, out)
}

func writeSupernodeSamples(w io.Writer, log *events.Log) error {
	t0 := metrics.TimeZero(log)
	evs := slices.Clone(log.Events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].T < evs[j].T })
	var out [][]string
	for _, ev := range evs {
		ss, ok := ev.Payload.(events.SupernodeSample)
		if !ok {
			continue
		}
		out = append(out, []string{
			ff((ev.T - t0).Seconds()), strconv.Itoa(ss.Node), strconv.Itoa(ss.Leaves),
			ff(ss.ReqPerSec), ff(ss.Utilisation), strconv.FormatInt(ss.Records, 10),
		})
	}
	return writeCSV(w, []string{"t_s", "node", "leaves", "req_per_s", "utilisation", "records"}, out)
}

func writeBins(w io.Writer, s *metrics.Summary) error {
	var out [][]string
	for _, b := range s.Bins {
		out = append(out, []string{
			ff(b.StartS), ff(b.EndS), strconv.Itoa(b.Lookups), strconv.Itoa(b.Succeeded), ff(b.SuccessRate),
			strconv.Itoa(b.Answered), ff(b.P50MS), ff(b.P95MS), ff(b.P99MS), ff(b.SupernodesMean),
		})
	}
	return writeCSV(w, []string{"start_s", "end_s", "lookups", "succeeded", "success_rate",
		"answered", "p50_ms", "p95_ms", "p99_ms", "supernodes_mean"}, out)
}

func writeFailures(w io.Writer, s *metrics.Summary) error {
	var out [][]string
	for _, f := range s.Failures.List {
		out = append(out, []string{ff(f.IssuedS), f.Op, strconv.FormatUint(f.OpID, 10), strconv.Itoa(f.Node),
			strconv.Itoa(f.Object), f.Outcome, f.Cause, f.Error})
	}
	return writeCSV(w, []string{"issued_s", "op", "op_id", "node", "object", "outcome", "cause", "error"}, out)
}

func writeSeries(w io.Writer, s *metrics.Summary) error {
	var out [][]string
	for _, p := range s.Supernodes.Series {
		out = append(out, []string{ff(p.TS), strconv.Itoa(p.Count)})
	}
	return writeCSV(w, []string{"t_s", "supernodes"}, out)
}

func pct(num, den int) string {
	if den == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(num)/float64(den))
}

// fmtMS formats milliseconds with precision adapted to the magnitude.
func fmtMS(v float64) string {
	switch {
	case v == 0:
		return "0 ms"
	case v < 10:
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.1f ms", v)
}

func fmtBytes(v float64) string {
	const unit = 1024.0
	switch {
	case math.Abs(v) >= unit*unit*unit:
		return fmt.Sprintf("%.1f GiB", v/(unit*unit*unit))
	case math.Abs(v) >= unit*unit:
		return fmt.Sprintf("%.1f MiB", v/(unit*unit))
	case math.Abs(v) >= unit:
		return fmt.Sprintf("%.1f KiB", v/unit)
	}
	return fmt.Sprintf("%.0f B", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortedByCount returns m's keys, largest count first (ties by name).
func sortedByCount(m map[string]int) []string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	return keys
}

// WriteText writes the one-screen text summary.
func WriteText(w io.Writer, s *metrics.Summary) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	l := &s.Lookups
	p("supertracker testnet: scenario %s, seed %d, %d nodes, window %.1f s (bin %g s), schedule started %.1f s after the first node (overlay formed)",
		s.Scenario, s.Seed, s.Nodes, s.WindowS, s.BinS, s.T0S)
	p("Lookups     %d: success %s (%d/%d)  answerable-only %s (%d/%d)  %.2f/s",
		l.Total, pct(l.Succeeded, l.Total), l.Succeeded, l.Total,
		pct(l.AnswerableSucceeded, l.Answerable), l.AnswerableSucceeded, l.Answerable, l.RatePerS)
	p("  failures  timeout %d, error %d, no holders %d, dead holders %d, late %d",
		l.Timeouts, l.Errors, l.NoHolders, l.DeadHolders, l.Late)
	p("  latency   p50 %s  p95 %s  p99 %s  (answered, n=%d; timeout %s)",
		fmtMS(l.Latency.P50MS), fmtMS(l.Latency.P95MS), fmtMS(l.Latency.P99MS), l.Latency.Count, fmtMS(s.LookupTimeoutMS))
	a := &s.Announces
	p("Announces   %d: ok %s (%d/%d)  p50 %s  p95 %s  p99 %s",
		a.Total, pct(a.OK, a.Total), a.OK, a.Total, fmtMS(a.Latency.P50MS), fmtMS(a.Latency.P95MS), fmtMS(a.Latency.P99MS))
	sn := &s.Supernodes
	p("Supernodes  min %d  mean %.2f  max %d   utilisation mean %.3f max %.3f  req/s mean %.2f",
		sn.Min, sn.Mean, sn.Max, sn.MeanUtilisation, sn.MaxUtilisation, sn.MeanReqPerS)
	r := &s.RoleChanges
	p("Roles       %d role changes (%d promotions, %d demotions) on %d nodes",
		r.Total, r.Promotions, r.Demotions, len(r.PerNode))
	c := &s.Churn
	var causes []string
	for _, k := range sortedKeys(c.KillsByCause) {
		causes = append(causes, fmt.Sprintf("%s %d", k, c.KillsByCause[k]))
	}
	p("Churn       %d churn events: %d kills (%s), %d restarts, %d exits, %d mass failures; availability %.1f%%",
		c.Kills+c.Restarts+c.Exits, c.Kills, strings.Join(causes, ", "), c.Restarts, c.Exits, c.MassFailures, 100*s.NodeAvailability)
	t := &s.Traffic
	p("Traffic     %d msgs, %s; per lookup %.2f msgs %s; per announce %.2f msgs %s; per op %.2f msgs %s",
		t.Msgs, fmtBytes(float64(t.Bytes)), t.MsgsPerLookup, fmtBytes(t.BytesPerLookup),
		t.MsgsPerAnnounce, fmtBytes(t.BytesPerAnnounce), t.MsgsPerOp, fmtBytes(t.BytesPerOp))
	if len(s.Resources) == 0 {
		p("Resources   no samples")
	}
	for i, role := range sortedKeys(s.Resources) {
		rr := s.Resources[role]
		label := "Resources  "
		if i > 0 {
			label = "           "
		}
		p("%s %-9s CPU %.3f cores (%.2f s over %.1f node-s)  RSS mean %s max %s  (n=%d)",
			label, role, rr.CPUCores, rr.CPUSeconds, rr.NodeSeconds, fmtBytes(rr.RSSMeanB), fmtBytes(float64(rr.RSSMaxB)), rr.Samples)
	}
	for _, f := range []struct {
		name  string
		total int
		m     map[string]int
	}{{"lookups", l.Total - l.Succeeded, s.Failures.Lookups}, {"announces", a.Total - a.OK, s.Failures.Announces}} {
		if f.total == 0 {
			continue
		}
		var parts []string
		for _, k := range sortedByCount(f.m) {
			parts = append(parts, fmt.Sprintf("%s %d", k, f.m[k]))
		}
		p("Failed %-9s %d: %s", f.name, f.total, strings.Join(parts, "; "))
	}
	p("Ops         %d issued, %d skipped", s.Ops.Issued, s.Ops.Skipped)
	_, err := io.WriteString(w, b.String())
	return err
}
