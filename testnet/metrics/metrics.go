package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
)

// SummaryVersion is the version of the Summary JSON.
const SummaryVersion = 1

// DefaultBin is the bin width used when Options.Bin is 0.
const DefaultBin = 5 * time.Second

// MaxBins bounds the number of time bins.
const MaxBins = 100_000

// Options tune Compute.
type Options struct {
	Bin time.Duration // width of the time bins; 0 means DefaultBin
}

// Lookup outcomes.
const (
	OutcomeSuccess     = "success"
	OutcomeTimeout     = "timeout"
	OutcomeError       = "error"
	OutcomeNoHolders   = "no_holders"
	OutcomeDeadHolders = "dead_holders"
	OutcomeLate        = "late"
)

// Summary holds every figure of a run. Times in seconds (_s) or
// milliseconds (_ms).
type Summary struct {
	Version         int     `json:"version"`
	Scenario        string  `json:"scenario"`
	Seed            uint64  `json:"seed"`
	Nodes           int     `json:"nodes"`
	DurationS       float64 `json:"duration_s"`        // scheduled
	WindowS         float64 `json:"window_s"`          // measured window (duration, or up to run_end)
	T0S             float64 `json:"t0_s"`              // schedule_start, seconds since log start
	LookupTimeoutMS float64 `json:"lookup_timeout_ms"` // success criterion
	BinS            float64 `json:"bin_s"`

	Ops              OpStats                  `json:"ops"`
	Lookups          LookupStats              `json:"lookups"`
	Announces        AnnounceStats            `json:"announces"`
	Bins             []Bin                    `json:"bins"`
	Supernodes       SupernodeStats           `json:"supernodes"`
	RoleChanges      RoleChangeStats          `json:"role_changes"`
	Churn            ChurnStats               `json:"churn"`
	NodeAvailability float64                  `json:"node_availability"` // live node-time / (nodes × window)
	Traffic          TrafficStats             `json:"traffic"`
	Resources        map[string]RoleResources `json:"resources"` // by role
	// Marks: kills, restarts and the mass failure in the window (plots).
	Marks []Mark `json:"marks"`
	// Failures: every failed announce and lookup with its cause.
	Failures FailureStats `json:"failures"`
}

// OpStats counts schedule ops seen by the launcher (op events), by op kind.
type OpStats struct {
	Issued  int            `json:"issued"` // including skipped
	Skipped int            `json:"skipped"`
	ByKind  map[string]int `json:"by_kind"`
	Skips   map[string]int `json:"skipped_by_kind"`
}

// Latency is a latency distribution (nearest-rank percentiles).
type Latency struct {
	Count  int     `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P95MS  float64 `json:"p95_ms"`
	P99MS  float64 `json:"p99_ms"`
	MeanMS float64 `json:"mean_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// LookupStats: lookup results. Total = Succeeded + Timeouts + Errors +
// NoHolders + DeadHolders + Late.
type LookupStats struct {
	Total                 int     `json:"total"`
	Succeeded             int     `json:"succeeded"`
	SuccessRate           float64 `json:"success_rate"`
	Answered              int     `json:"answered"` // status ok
	Timeouts              int     `json:"timeouts"`
	Errors                int     `json:"errors"`
	NoHolders             int     `json:"no_holders"`
	DeadHolders           int     `json:"dead_holders"`
	Late                  int     `json:"late"`
	Answerable            int     `json:"answerable"`
	AnswerableSucceeded   int     `json:"answerable_succeeded"`
	AnswerableSuccessRate float64 `json:"answerable_success_rate"`
	RatePerS              float64 `json:"rate_per_s"`        // Total / window
	Latency               Latency `json:"latency"`           // answered lookups
	LatencySucceeded      Latency `json:"latency_succeeded"` // successful lookups
}

// AnnounceStats: announce results.
type AnnounceStats struct {
	Total       int     `json:"total"`
	OK          int     `json:"ok"`
	Timeouts    int     `json:"timeouts"`
	Errors      int     `json:"errors"`
	SuccessRate float64 `json:"success_rate"`
	Latency     Latency `json:"latency"` // ok announces
}

// Bin is one time bin [StartS, EndS) relative to t0.
type Bin struct {
	StartS         float64 `json:"start_s"`
	EndS           float64 `json:"end_s"`
	Lookups        int     `json:"lookups"`
	Succeeded      int     `json:"succeeded"`
	SuccessRate    float64 `json:"success_rate"`
	Answered       int     `json:"answered"`
	P50MS          float64 `json:"p50_ms"` // answered lookups in the bin
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	SupernodesMean float64 `json:"supernodes_mean"` // time-weighted
}

// Point is a step of the supernode-count series: Count from TS (relative to
// t0) until the next point.
type Point struct {
	TS    float64 `json:"t_s"`
	Count int     `json:"count"`
}

// SupernodeStats: supernode count over the window and per-supernode load.
type SupernodeStats struct {
	Min             int             `json:"min"`
	Max             int             `json:"max"`
	Mean            float64         `json:"mean"` // time-weighted
	Series          []Point         `json:"series"`
	Samples         int             `json:"samples"`
	MeanReqPerS     float64         `json:"mean_req_per_s"` // over all samples
	MeanUtilisation float64         `json:"mean_utilisation"`
	MaxUtilisation  float64         `json:"max_utilisation"`
	PerNode         []SupernodeLoad `json:"per_node"`
}

// SupernodeLoad summarises the samples of one supernode.
type SupernodeLoad struct {
	Node            int     `json:"node"`
	Samples         int     `json:"samples"`
	MeanReqPerS     float64 `json:"mean_req_per_s"`
	MaxReqPerS      float64 `json:"max_req_per_s"`
	MeanUtilisation float64 `json:"mean_utilisation"`
	MaxUtilisation  float64 `json:"max_utilisation"`
	MeanLeaves      float64 `json:"mean_leaves"`
	MaxLeaves       int     `json:"max_leaves"`
	MaxRecords      int64   `json:"max_records"`
}

// RoleChangeStats counts role_change events.
type RoleChangeStats struct {
	Total      int         `json:"total"`
	Promotions int         `json:"promotions"` // to supernode
	Demotions  int         `json:"demotions"`  // from supernode
	PerNode    []NodeCount `json:"per_node"`   // nodes with >= 1 change
}

// NodeCount is a per-node count.
type NodeCount struct {
	Node  int `json:"node"`
	Count int `json:"count"`
}

// ChurnStats counts lifecycle events (shutdown kills excluded from Kills).
type ChurnStats struct {
	Starts       int            `json:"starts"`
	Kills        int            `json:"kills"`
	KillsByCause map[string]int `json:"kills_by_cause"`
	Shutdowns    int            `json:"shutdowns"`
	Restarts     int            `json:"restarts"`
	Exits        int            `json:"exits"`
	MassFailures int            `json:"mass_failures"` // executed mass_failure ops
}

// TrafficStats: message and byte counts (increments of the cumulative
// counters) and their ratios to operations.
type TrafficStats struct {
	Msgs             int64                   `json:"msgs"`
	Bytes            int64                   `json:"bytes"`
	ByClass          map[string]ClassTraffic `json:"by_class"`
	MsgsPerLookup    float64                 `json:"msgs_per_lookup"`
	BytesPerLookup   float64                 `json:"bytes_per_lookup"`
	MsgsPerAnnounce  float64                 `json:"msgs_per_announce"`
	BytesPerAnnounce float64                 `json:"bytes_per_announce"`
	MsgsPerOp        float64                 `json:"msgs_per_op"`
	BytesPerOp       float64                 `json:"bytes_per_op"`
}

// ClassTraffic is the traffic of one class.
type ClassTraffic struct {
	Msgs  int64 `json:"msgs"`
	Bytes int64 `json:"bytes"`
}

// RoleResources: CPU and memory of nodes while in one role.
type RoleResources struct {
	Samples     int     `json:"samples"`
	CPUSeconds  float64 `json:"cpu_s"`
	NodeSeconds float64 `json:"node_s"`    // sampled process time
	CPUCores    float64 `json:"cpu_cores"` // CPUSeconds / NodeSeconds
	RSSMeanB    float64 `json:"rss_mean_bytes"`
	RSSMaxB     int64   `json:"rss_max_bytes"`
}

// LookupRow is one lookup result with its derived fields (times relative to
// t0).
type LookupRow struct {
	Issued       time.Duration // completion time - latency
	Done         time.Duration // event time
	Latency      time.Duration
	OpID         uint64
	Node         int
	Object       int
	Status       string
	Holders      int
	HoldersAlive int
	Outcome      string
	Answerable   bool
}

// Outcome classifies a lookup result against the timeout (see package doc).
func Outcome(l events.LookupResult, timeout time.Duration) string {
	switch {
	case l.Status == events.StatusTimeout:
		return OutcomeTimeout
	case l.Status != events.StatusOK:
		return OutcomeError
	case l.Holders == 0:
		return OutcomeNoHolders
	case l.HoldersAlive == 0:
		return OutcomeDeadHolders
	case l.Latency > timeout:
		return OutcomeLate
	}
	return OutcomeSuccess
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted values by
// nearest rank: sorted[ceil(p·N/100)-1]; 0 if empty.
func Percentile(sorted []time.Duration, p int) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := (p*n + 99) / 100
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

func ms(d time.Duration) float64  { return float64(d) / 1e6 }
func sec(d time.Duration) float64 { return float64(d) / 1e9 }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func latencyOf(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum int64
	for _, d := range s {
		sum += int64(d)
	}
	return Latency{
		Count: len(s),
		P50MS: ms(Percentile(s, 50)), P95MS: ms(Percentile(s, 95)), P99MS: ms(Percentile(s, 99)),
		MeanMS: float64(sum) / float64(len(s)) / 1e6,
		MaxMS:  ms(s[len(s)-1]),
	}
}

// ErrBadLog is returned for logs that are well-formed line by line but
// inconsistent as a whole.
var ErrBadLog = errors.New("metrics: inconsistent event log")

// timeline tracks node liveness and roles over time.
type span struct{ from, to time.Duration } // [from, to)

type analysis struct {
	log     *events.Log
	evs     []events.Event // sorted by time (stable)
	t0, end time.Duration
	alive   [][]span // per node
	// lookupErr: the error text of lookups that did not answer, by op.
	lookupErr map[uint64]string
}

const forever = time.Duration(1<<63 - 1)

// Compute derives the Summary from a log.
func Compute(log *events.Log, opts Options) (*Summary, error) {
	if log == nil {
		return nil, fmt.Errorf("%w: nil log", ErrBadLog)
	}
	bin := opts.Bin
	if bin == 0 {
		bin = DefaultBin
	}
	if bin < 0 {
		return nil, fmt.Errorf("metrics: negative bin %v", bin)
	}
	a, err := newAnalysis(log)
	if err != nil {
		return nil, err
	}
	run := log.Run
	w := a.end - a.t0
	nb := int((w + bin - 1) / bin)
	if nb > MaxBins {
		return nil, fmt.Errorf("metrics: %d bins exceed %d; use a wider bin", nb, MaxBins)
	}
	s := &Summary{
		Version: SummaryVersion, Scenario: run.Scenario, Seed: run.Seed, Nodes: run.Nodes,
		DurationS: sec(run.Duration), WindowS: sec(w), T0S: sec(a.t0),
		LookupTimeoutMS: ms(run.LookupTimeout), BinS: sec(bin),
	}
	s.Bins = make([]Bin, nb)
	for i := range s.Bins {
		s.Bins[i].StartS = sec(time.Duration(i) * bin)
		s.Bins[i].EndS = sec(min(time.Duration(i+1)*bin, w))
	}
	a.ops(s)
	a.lookups(s, bin)
	a.announces(s)
	a.supernodes(s, bin)
	a.roles(s)
	a.churn(s)
	a.availability(s)
	a.traffic(s)
	a.resources(s)
	a.marks(s)
	a.failures(s)
	return s, nil
}

// TimeZero returns the time of the log's schedule_start event (schedule time
// zero), or 0 if there is none.
func TimeZero(log *events.Log) time.Duration {
	for _, ev := range log.Events {
		if _, ok := ev.Payload.(events.ScheduleStart); ok {
			return ev.T
		}
	}
	return 0
}

// ComputeFile reads the log at path and computes its Summary.
func ComputeFile(path string, opts Options) (*Summary, *events.Log, error) {
	l, err := events.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := Compute(l, opts)
	return s, l, err
}

func newAnalysis(log *events.Log) (*analysis, error) {
	if err := events.Validate(nil, log.Run); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadLog, err)
	}
	for i, ev := range log.Events {
		if err := events.Validate(&log.Run, ev.Payload); err != nil {
			return nil, fmt.Errorf("%w: event %d: %v", ErrBadLog, i, err)
		}
	}
	a := &analysis{log: log, evs: slices.Clone(log.Events), lookupErr: map[uint64]string{}}
	for _, ev := range log.Events {
		if l, ok := ev.Payload.(events.LookupResult); ok && l.Error != "" {
			a.lookupErr[l.OpID] = l.Error
		}
	}
	sort.SliceStable(a.evs, func(i, j int) bool { return a.evs[i].T < a.evs[j].T })
	starts := 0
	for _, ev := range a.evs {
		if _, ok := ev.Payload.(events.ScheduleStart); ok {
			if starts++; starts > 1 {
				return nil, fmt.Errorf("%w: more than one schedule_start", ErrBadLog)
			}
			a.t0 = ev.T
		}
	}
	a.end = a.t0 + log.Run.Duration
	for _, ev := range a.evs {
		if _, ok := ev.Payload.(events.RunEnd); ok && ev.T < a.end {
			a.end = max(ev.T, a.t0)
			break
		}
	}
	// Liveness spans.
	a.alive = make([][]span, log.Run.Nodes)
	upSince := make([]time.Duration, log.Run.Nodes)
	up := make([]bool, log.Run.Nodes)
	for _, ev := range a.evs {
		n, isUp, ok := lifecycle(ev.Payload)
		if !ok {
			continue
		}
		switch {
		case isUp && !up[n]:
			up[n], upSince[n] = true, ev.T
		case !isUp && up[n]:
			up[n] = false
			a.alive[n] = append(a.alive[n], span{upSince[n], ev.T})
		}
	}
	for n := range up {
		if up[n] {
			a.alive[n] = append(a.alive[n], span{upSince[n], forever})
		}
	}
	return a, nil
}

// lifecycle returns the node a lifecycle event concerns and whether it
// leaves the node up.
func lifecycle(p events.Payload) (node int, up, ok bool) {
	switch e := p.(type) {
	case events.NodeStart:
		return e.Node, true, true
	case events.NodeRestart:
		return e.Node, true, true
	case events.NodeKill:
		return e.Node, false, true
	case events.NodeExit:
		return e.Node, false, true
	}
	return 0, false, false
}

// aliveAt reports whether node n is up at t (events at t included).
func (a *analysis) aliveAt(n int, t time.Duration) bool {
	sp := a.alive[n]
	k := sort.Search(len(sp), func(k int) bool { return sp[k].to > t })
	return k < len(sp) && sp[k].from <= t
}

func (a *analysis) ops(s *Summary) {
	s.Ops.ByKind = map[string]int{}
	s.Ops.Skips = map[string]int{}
	for _, ev := range a.evs {
		if o, ok := ev.Payload.(events.OpIssued); ok {
			s.Ops.Issued++
			s.Ops.ByKind[o.Op]++
			if o.Skipped != "" {
				s.Ops.Skipped++
				s.Ops.Skips[o.Op]++
			}
		}
	}
}

// LookupRows returns every lookup result of the log, in issue-time order,
// with outcome and answerability.
func LookupRows(log *events.Log) ([]LookupRow, error) {
	a, err := newAnalysis(log)
	if err != nil {
		return nil, err
	}
	return a.lookupRows(), nil
}

func (a *analysis) lookupRows() []LookupRow {
	// Holders: per object, (node, completion time) of ok announces.
	type holder struct {
		node int
		at   time.Duration
	}
	holders := map[int][]holder{}
	for _, ev := range a.evs {
		if an, ok := ev.Payload.(events.AnnounceResult); ok && an.Status == events.StatusOK {
			holders[an.Object] = append(holders[an.Object], holder{an.Node, ev.T})
		}
	}
	var rows []LookupRow
	for _, ev := range a.evs {
		l, ok := ev.Payload.(events.LookupResult)
		if !ok {
			continue
		}
		issued := ev.T - l.Latency
		answerable := false
		for _, h := range holders[l.Object] {
			if h.at <= issued && a.aliveAt(h.node, issued) {
				answerable = true
				break
			}
		}
		rows = append(rows, LookupRow{
			Issued: issued - a.t0, Done: ev.T - a.t0, Latency: l.Latency,
			OpID: l.OpID, Node: l.Node, Object: l.Object, Status: l.Status,
			Holders: l.Holders, HoldersAlive: l.HoldersAlive,
			Outcome: Outcome(l, a.log.Run.LookupTimeout), Answerable: answerable,
		})
	}
	slices.SortStableFunc(rows, func(x, y LookupRow) int { return cmp.Compare(x.Issued, y.Issued) })
	return rows
}

func (a *analysis) lookups(s *Summary, bin time.Duration) {
	st := &s.Lookups
	var answered, succeeded []time.Duration
	binAnswered := make([][]time.Duration, len(s.Bins))
	for _, r := range a.lookupRows() {
		lat := r.Latency
		st.Total++
		switch r.Outcome {
		case OutcomeSuccess:
			st.Succeeded++
			succeeded = append(succeeded, lat)
		case OutcomeTimeout:
			st.Timeouts++
		case OutcomeError:
			st.Errors++
		case OutcomeNoHolders:
			st.NoHolders++
		case OutcomeDeadHolders:
			st.DeadHolders++
		case OutcomeLate:
			st.Late++
		}
		if r.Status == events.StatusOK {
			st.Answered++
			answered = append(answered, lat)
		}
		if r.Answerable {
			st.Answerable++
			if r.Outcome == OutcomeSuccess {
				st.AnswerableSucceeded++
			}
		}
		if len(s.Bins) > 0 {
			i := 0
			if r.Issued > 0 {
				i = min(int(r.Issued/bin), len(s.Bins)-1)
			}
			b := &s.Bins[i]
			b.Lookups++
			if r.Outcome == OutcomeSuccess {
				b.Succeeded++
			}
			if r.Status == events.StatusOK {
				b.Answered++
				binAnswered[i] = append(binAnswered[i], lat)
			}
		}
	}
	st.SuccessRate = ratio(float64(st.Succeeded), float64(st.Total))
	st.AnswerableSuccessRate = ratio(float64(st.AnswerableSucceeded), float64(st.Answerable))
	st.RatePerS = ratio(float64(st.Total), s.WindowS)
	st.Latency = latencyOf(answered)
	st.LatencySucceeded = latencyOf(succeeded)
	for i := range s.Bins {
		b := &s.Bins[i]
		b.SuccessRate = ratio(float64(b.Succeeded), float64(b.Lookups))
		l := latencyOf(binAnswered[i])
		b.P50MS, b.P95MS, b.P99MS = l.P50MS, l.P95MS, l.P99MS
	}
}

func (a *analysis) announces(s *Summary) {
	st := &s.Announces
	var ok []time.Duration
	for _, ev := range a.evs {
		an, isAnn := ev.Payload.(events.AnnounceResult)
		if !isAnn {
			continue
		}
		st.Total++
		switch an.Status {
		case events.StatusOK:
			st.OK++
			ok = append(ok, an.Latency)
		case events.StatusTimeout:
			st.Timeouts++
		default:
			st.Errors++
		}
	}
	st.SuccessRate = ratio(float64(st.OK), float64(st.Total))
	st.Latency = latencyOf(ok)
}

// supernodes computes the supernode-count step function over the window,
// its per-bin means and the per-supernode load.
func (a *analysis) supernodes(s *Summary, bin time.Duration) {
	n := a.log.Run.Nodes
	up := make([]bool, n)
	super := make([]bool, n)
	count := 0
	recount := func() {
		count = 0
		for i := range n {
			if up[i] && super[i] {
				count++
			}
		}
	}
	type step struct {
		t time.Duration // relative to t0
		c int
	}
	var steps []step
	for _, ev := range a.evs {
		if ev.T >= a.end {
			break
		}
		switch e := ev.Payload.(type) {
		case events.NodeStart:
			up[e.Node], super[e.Node] = true, e.Role == events.RoleSupernode
		case events.NodeRestart:
			up[e.Node], super[e.Node] = true, e.Role == events.RoleSupernode
		case events.NodeKill:
			up[e.Node] = false
		case events.NodeExit:
			up[e.Node] = false
		case events.RoleChange:
			super[e.Node] = e.To == events.RoleSupernode
		default:
			continue
		}
		recount()
		t := max(ev.T-a.t0, 0)
		if len(steps) > 0 && steps[len(steps)-1].t == t {
			steps[len(steps)-1].c = count // same instant: keep the last value
		} else {
			steps = append(steps, step{t, count})
		}
	}
	if len(steps) == 0 || steps[0].t > 0 {
		steps = append([]step{{0, 0}}, steps...)
	}
	// Merge equal consecutive counts.
	merged := steps[:1]
	for _, st := range steps[1:] {
		if st.c != merged[len(merged)-1].c {
			merged = append(merged, st)
		}
	}
	w := a.end - a.t0
	sn := &s.Supernodes
	sn.Min, sn.Max = merged[0].c, merged[0].c
	var weighted int64 // count × ns
	binW := make([]int64, len(s.Bins))
	for i, st := range merged {
		next := w
		if i+1 < len(merged) {
			next = merged[i+1].t
		}
		sn.Series = append(sn.Series, Point{TS: sec(st.t), Count: st.c})
		if next <= st.t {
			continue
		}
		sn.Min, sn.Max = min(sn.Min, st.c), max(sn.Max, st.c)
		weighted += int64(st.c) * int64(next-st.t)
		for b := range s.Bins { // overlap of [st.t, next) with each bin
			lo, hi := max(st.t, time.Duration(b)*bin), min(next, time.Duration(b+1)*bin)
			if hi > lo {
				binW[b] += int64(st.c) * int64(hi-lo)
			}
		}
	}
	if w > 0 {
		sn.Mean = float64(weighted) / float64(w)
	} else {
		sn.Mean = float64(merged[0].c)
	}
	for b := range s.Bins {
		lo, hi := time.Duration(b)*bin, min(time.Duration(b+1)*bin, w)
		s.Bins[b].SupernodesMean = ratio(float64(binW[b]), float64(hi-lo))
	}

	// Per-supernode load from samples.
	per := map[int]*SupernodeLoad{}
	var sumReq, sumUtil float64
	var sumLeaves = map[int]int{}
	var sumNodeReq, sumNodeUtil = map[int]float64{}, map[int]float64{}
	for _, ev := range a.evs {
		ss, ok := ev.Payload.(events.SupernodeSample)
		if !ok {
			continue
		}
		sn.Samples++
		sumReq += ss.ReqPerSec
		sumUtil += ss.Utilisation
		sn.MaxUtilisation = max(sn.MaxUtilisation, ss.Utilisation)
		p := per[ss.Node]
		if p == nil {
			p = &SupernodeLoad{Node: ss.Node}
			per[ss.Node] = p
		}
		p.Samples++
		sumNodeReq[ss.Node] += ss.ReqPerSec
		sumNodeUtil[ss.Node] += ss.Utilisation
		sumLeaves[ss.Node] += ss.Leaves
		p.MaxReqPerS = max(p.MaxReqPerS, ss.ReqPerSec)
		p.MaxUtilisation = max(p.MaxUtilisation, ss.Utilisation)
		p.MaxLeaves = max(p.MaxLeaves, ss.Leaves)
		p.MaxRecords = max(p.MaxRecords, ss.Records)
	}
	sn.MeanReqPerS = ratio(sumReq, float64(sn.Samples))
	sn.MeanUtilisation = ratio(sumUtil, float64(sn.Samples))
	for node, p := range per {
		k := float64(p.Samples)
		p.MeanReqPerS = sumNodeReq[node] / k
		p.MeanUtilisation = sumNodeUtil[node] / k
		p.MeanLeaves = float64(sumLeaves[node]) / k
		sn.PerNode = append(sn.PerNode, *p)
	}
	slices.SortFunc(sn.PerNode, func(x, y SupernodeLoad) int { return cmp.Compare(x.Node, y.Node) })
}

func (a *analysis) roles(s *Summary) {
	st := &s.RoleChanges
	per := map[int]int{}
	for _, ev := range a.evs {
		rc, ok := ev.Payload.(events.RoleChange)
		if !ok {
			continue
		}
		st.Total++
		per[rc.Node]++
		if rc.To == events.RoleSupernode {
			st.Promotions++
		}
		if rc.From == events.RoleSupernode {
			st.Demotions++
		}
	}
	for node, c := range per {
		st.PerNode = append(st.PerNode, NodeCount{Node: node, Count: c})
	}
	slices.SortFunc(st.PerNode, func(x, y NodeCount) int { return cmp.Compare(x.Node, y.Node) })
}

func (a *analysis) churn(s *Summary) {
	c := &s.Churn
	c.KillsByCause = map[string]int{}
	for _, ev := range a.evs {
		switch e := ev.Payload.(type) {
		case events.NodeStart:
			c.Starts++
		case events.NodeKill:
			if e.Cause == events.CauseShutdown {
				c.Shutdowns++
				continue
			}
			c.Kills++
			c.KillsByCause[e.Cause]++
		case events.NodeRestart:
			c.Restarts++
		case events.NodeExit:
			c.Exits++
		case events.OpIssued:
			if e.Op == "mass_failure" && e.Skipped == "" {
				c.MassFailures++
			}
		}
	}
}

func (a *analysis) availability(s *Summary) {
	w := a.end - a.t0
	if w <= 0 {
		return
	}
	var alive int64
	for _, spans := range a.alive {
		for _, sp := range spans {
			lo, hi := max(sp.from, a.t0), min(sp.to, a.end)
			if hi > lo {
				alive += int64(hi - lo)
			}
		}
	}
	s.NodeAvailability = float64(alive) / float64(int64(a.log.Run.Nodes)*int64(w))
}

func (a *analysis) traffic(s *Summary) {
	t := &s.Traffic
	t.ByClass = map[string]ClassTraffic{}
	type key struct {
		node  int
		class string
	}
	last := map[key]events.TrafficSample{}
	for _, ev := range a.evs {
		switch e := ev.Payload.(type) {
		case events.NodeStart, events.NodeRestart:
			n, _, _ := lifecycle(e)
			for k := range last {
				if k.node == n {
					delete(last, k)
				}
			}
		case events.TrafficSample:
			k := key{e.Node, e.Class}
			prev := last[k]
			dm, db := e.Msgs-prev.Msgs, e.Bytes-prev.Bytes
			if dm < 0 || db < 0 { // counter reset
				dm, db = e.Msgs, e.Bytes
			}
			last[k] = e
			c := t.ByClass[e.Class]
			c.Msgs += dm
			c.Bytes += db
			t.ByClass[e.Class] = c
			t.Msgs += dm
			t.Bytes += db
		}
	}
	lk, an := t.ByClass[events.ClassLookup], t.ByClass[events.ClassAnnounce]
	nl, na := float64(s.Lookups.Total), float64(s.Announces.Total)
	t.MsgsPerLookup = ratio(float64(lk.Msgs), nl)
	t.BytesPerLookup = ratio(float64(lk.Bytes), nl)
	t.MsgsPerAnnounce = ratio(float64(an.Msgs), na)
	t.BytesPerAnnounce = ratio(float64(an.Bytes), na)
	t.MsgsPerOp = ratio(float64(t.Msgs), nl+na)
	t.BytesPerOp = ratio(float64(t.Bytes), nl+na)
}

func (a *analysis) resources(s *Summary) {
	s.Resources = map[string]RoleResources{}
	type base struct {
		cpu float64
		t   time.Duration
		ok  bool // t is known
	}
	last := map[int]base{}
	rssSum := map[string]int64{}
	nodeNS := map[string]int64{}
	for _, ev := range a.evs {
		switch e := ev.Payload.(type) {
		case events.NodeStart, events.NodeRestart:
			n, _, _ := lifecycle(e)
			last[n] = base{cpu: 0, t: ev.T, ok: true}
		case events.ResourceSample:
			r := s.Resources[e.Role]
			prev, seen := last[e.Node]
			dc := e.CPUSeconds - prev.cpu
			if dc < 0 { // counter reset without a restart event
				dc, prev.ok = e.CPUSeconds, false
			}
			r.CPUSeconds += dc
			if seen && prev.ok {
				nodeNS[e.Role] += int64(ev.T - prev.t)
			}
			last[e.Node] = base{cpu: e.CPUSeconds, t: ev.T, ok: true}
			r.Samples++
			rssSum[e.Role] += e.RSSBytes
			r.RSSMaxB = max(r.RSSMaxB, e.RSSBytes)
			s.Resources[e.Role] = r
		}
	}
	for role, r := range s.Resources {
		r.NodeSeconds = float64(nodeNS[role]) / 1e9
		r.CPUCores = ratio(r.CPUSeconds, r.NodeSeconds)
		r.RSSMeanB = float64(rssSum[role]) / float64(r.Samples)
		s.Resources[role] = r
	}
}
