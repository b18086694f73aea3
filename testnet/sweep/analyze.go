package sweep

import (
	"slices"
	"sort"
	"time"

	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/events"
	"github.com/supertracker/supertracker/testnet/metrics"
)

// RunResult is what one (point, seed, design) run measured.
type RunResult struct {
	Key      string  `json:"key"`
	Design   Design  `json:"design"`
	Seed     uint64  `json:"seed"`
	Params   Params  `json:"params"`
	Dir      string  `json:"dir"`
	Error    string  `json:"error,omitempty"`
	ElapsedS float64 `json:"elapsed_s"`
	Reused   bool    `json:"reused,omitempty"` // analysed again from an earlier invocation's files
	// LoadAvg: the machine's 1-minute load average when the run ended (the
	// machine may be shared with other work; 2 cores here).
	LoadAvg  float64 `json:"loadavg"`
	NodePIDs int     `json:"node_pids"` // node processes the launcher started

	// Lookups: every lookup result; Succeeded: the paper's criterion (≥ 1
	// live holder returned within the timeout), as package metrics counts.
	Lookups   int `json:"lookups"`
	Succeeded int `json:"succeeded"`
	// Held lookups: a live peer had been issued an announce of the object
	// at least HoldGrace before the lookup (the same set in every design,
	// from the schedule); HeldSucceeded of them succeeded. This is the
	// tracker's reliability, the quantity the model predicts.
	Held          int            `json:"held"`
	HeldSucceeded int            `json:"held_succeeded"`
	HeldOutcomes  map[string]int `json:"held_outcomes"`
	// HeldByUp counts the held lookups by how many of the design's tracker
	// nodes were up when they were issued (out of TrackerNodes): the
	// realized churn the model is evaluated on.
	HeldByUp     map[int]int `json:"held_by_up"`
	TrackerNodes int         `json:"tracker_nodes"`
	// LatencyMS: latencies of the answered held lookups (status ok).
	LatencyMS []float64 `json:"latency_ms"`
	// Summary figures of package metrics (all lookups).
	P50MS         float64 `json:"p50_ms"`
	P95MS         float64 `json:"p95_ms"`
	P99MS         float64 `json:"p99_ms"`
	Announces     int     `json:"announces"`
	AnnouncesOK   int     `json:"announces_ok"`
	NodeAvail     float64 `json:"node_availability"`
	SupernodesAvg float64 `json:"supernodes_mean"`

	// TrackerAvail: fraction of the time after the warmup (when lookups
	// and churn run) that the design's tracker nodes were up: the overlay's
	// S supernodes, the n server hosts, every flat-DHT node.
	TrackerAvail float64 `json:"tracker_availability"`
	Kills        int     `json:"kills"`         // churn kills in the run
	TrackerKills int     `json:"tracker_kills"` // of those, kills of tracker nodes
	Restarts     int     `json:"restarts"`

	// Load of the tracker nodes from their samples: mean request rate λ
	// and utilisation ρ; μ̂ = Σλ / Σρ over samples with both > 0.
	ReqPerS   float64 `json:"req_per_s"`
	Rho       float64 `json:"rho"`
	MuHat     float64 `json:"mu_hat"`
	MuSamples int     `json:"mu_samples"`

	// Baselines: totals of the nodes' ops logs (FindProvidersAsync calls
	// and providers found; tracker queries) and the opentracker PIDs.
	Ops             baseline.OpsSummary `json:"ops"`
	ServerPIDs      []int               `json:"server_pids,omitempty"`
	ServerPIDsAlive int                 `json:"server_pids_alive"`
}

type span struct{ from, to time.Duration }

// trackerNodes: which node indices are tracker nodes in design d.
func trackerNodes(p Params, d Design) []int {
	var n int
	switch d {
	case Overlay:
		n = p.Trackers
	case Server:
		n = p.Replication
	default:
		n = p.Nodes()
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// analyze fills rr from the run's event log.
func analyze(rr *RunResult, eventsPath string, p Params, d Design, grace time.Duration) error {
	log, err := events.ReadFile(eventsPath)
	if err != nil {
		return err
	}
	sum, err := metrics.Compute(log, metrics.Options{})
	if err != nil {
		return err
	}
	rr.Lookups, rr.Succeeded = sum.Lookups.Total, sum.Lookups.Succeeded
	rr.P50MS, rr.P95MS, rr.P99MS = sum.Lookups.Latency.P50MS, sum.Lookups.Latency.P95MS, sum.Lookups.Latency.P99MS
	rr.Announces, rr.AnnouncesOK = sum.Announces.Total, sum.Announces.OK
	rr.NodeAvail, rr.SupernodesAvg = sum.NodeAvailability, sum.Supernodes.Mean
	rr.Restarts = sum.Churn.Restarts

	t0 := metrics.TimeZero(log)
	evs := slices.Clone(log.Events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].T < evs[j].T })
	nodes := log.Run.Nodes
	alive := make([][]span, nodes)
	upSince := make([]time.Duration, nodes)
	up := make([]bool, nodes)
	isTracker := map[int]bool{}
	for _, i := range trackerNodes(p, d) {
		isTracker[i] = true
	}
	// announces[obj]: announce ops issued to peers (node, schedule offset).
	type ann struct {
		node int
		at   time.Duration
	}
	announces := map[int][]ann{}
	var sumReq, sumRho, sumRhoAll float64
	var nRho int
	for _, ev := range evs {
		switch e := ev.Payload.(type) {
		case events.NodeStart, events.NodeRestart:
			var n int
			if s, ok := e.(events.NodeStart); ok {
				n = s.Node
			} else {
				n = e.(events.NodeRestart).Node
			}
			if !up[n] {
				up[n], upSince[n] = true, ev.T
			}
		case events.NodeKill:
			if up[e.Node] {
				up[e.Node] = false
				alive[e.Node] = append(alive[e.Node], span{upSince[e.Node], ev.T})
			}
			if e.Cause != events.CauseShutdown {
				rr.Kills++
				if isTracker[e.Node] {
					rr.TrackerKills++
				}
			}
		case events.NodeExit:
			if up[e.Node] {
				up[e.Node] = false
				alive[e.Node] = append(alive[e.Node], span{upSince[e.Node], ev.T})
			}
		case events.OpIssued:
			if e.Op == "announce" && e.Skipped == "" && e.Node >= p.Trackers {
				announces[e.Object] = append(announces[e.Object], ann{e.Node, e.At})
			}
		case events.SupernodeSample:
			if !isTracker[e.Node] {
				continue
			}
			sumRhoAll += e.Utilisation
			nRho++
			if e.ReqPerSec > 0 && e.Utilisation > 0 {
				sumReq += e.ReqPerSec
				sumRho += e.Utilisation
				rr.MuSamples++
			}
		}
	}
	for n := range up {
		if up[n] {
			alive[n] = append(alive[n], span{upSince[n], 1<<62 - 1})
		}
	}
	if rr.MuSamples > 0 {
		rr.MuHat = sumReq / sumRho
		rr.ReqPerS = sumReq / float64(rr.MuSamples)
	}
	if nRho > 0 {
		rr.Rho = sumRhoAll / float64(nRho)
	}
	aliveAt := func(n int, t time.Duration) bool {
		for _, s := range alive[n] {
			if s.from <= t && t < s.to {
				return true
			}
		}
		return false
	}
	// Tracker availability over [t0+warmup, t0+duration).
	lo, hi := t0+p.Warmup, t0+p.Duration
	var upNS, allNS int64
	for n := range isTracker {
		allNS += int64(hi - lo)
		for _, s := range alive[n] {
			a, b := max(s.from, lo), min(s.to, hi)
			if b > a {
				upNS += int64(b - a)
			}
		}
	}
	if allNS > 0 {
		rr.TrackerAvail = float64(upNS) / float64(allNS)
	}

	rows, err := metrics.LookupRows(log)
	if err != nil {
		return err
	}
	rr.HeldOutcomes = map[string]int{}
	rr.HeldByUp = map[int]int{}
	rr.TrackerNodes = len(isTracker)
	for _, row := range rows {
		held := false
		for _, a := range announces[row.Object] {
			if a.at+grace <= row.Issued && aliveAt(a.node, t0+row.Issued) {
				held = true
				break
			}
		}
		if !held {
			continue
		}
		rr.Held++
		rr.HeldOutcomes[row.Outcome]++
		upNow := 0
		for n := range isTracker {
			if aliveAt(n, t0+row.Issued) {
				upNow++
			}
		}
		rr.HeldByUp[upNow]++
		if row.Outcome == metrics.OutcomeSuccess {
			rr.HeldSucceeded++
		}
		if row.Status == events.StatusOK {
			rr.LatencyMS = append(rr.LatencyMS, float64(row.Latency.Microseconds())/1000)
		}
	}
	return nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
