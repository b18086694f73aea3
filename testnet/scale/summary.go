package scale

import (
	"math"
	"sort"
	"time"
)

// DesignSummary is one design's block of summary.json (the issue's
// schema): lookup latency in RTTs (the run's median link RTT), success of
// held lookups, time to findable, and maintenance traffic per supernode
// and per leaf (bytes/s in + out, during the quiet window, by nodes live
// through it). The flat DHT has no leaves: every peer is a DHT server, so
// both maintenance keys carry the per-node figure.
type DesignSummary struct {
	LookupP50RTT        float64 `json:"lookup_p50_rtt"`
	LookupP99RTT        float64 `json:"lookup_p99_rtt"`
	Success             float64 `json:"success"`
	FindableP50MS       float64 `json:"findable_p50_ms"`
	MaintBytesPerSSuper float64 `json:"maint_bytes_per_s_supernode"`
	MaintBytesPerSLeaf  float64 `json:"maint_bytes_per_s_leaf"`
}

// Summary is summary.json, exactly the schema.
type Summary struct {
	N           int            `json:"n"`
	Supernodes  int            `json:"supernodes"`
	Overlay     *DesignSummary `json:"overlay"`
	FlatKad     *DesignSummary `json:"flat_kad"`
	RTTMedianMS float64        `json:"rtt_median_ms"`
}

// DesignStats is the full analysis of one design's run (report.json).
type DesignStats struct {
	Design         string                 `json:"design"`
	Params         map[string]any         `json:"params"`
	SetupS         float64                `json:"setup_s"`
	WallS          float64                `json:"wall_s"`
	HeapSetupMB    float64                `json:"heap_setup_mb"`
	RSSPeakMB      float64                `json:"rss_peak_mb"`
	Goroutines     int                    `json:"goroutines_setup"`
	Lookups        int                    `json:"lookups"`
	Counted        int                    `json:"lookups_counted"` // held lookups whose issuer was live
	Succeeded      int                    `json:"lookups_succeeded"`
	Success        float64                `json:"success"`
	SuccessLo      float64                `json:"success_wilson_lo"`
	SuccessHi      float64                `json:"success_wilson_hi"`
	Outcomes       map[string]int         `json:"outcomes"`
	LatencyMS      Percentiles            `json:"latency_ms"` // successful lookups
	LatencyRTT     Percentiles            `json:"latency_rtt"`
	Publishes      int                    `json:"publishes"`
	Found          int                    `json:"publishes_found"`
	AnnounceMS     Percentiles            `json:"announce_ms"`
	FindableMS     Percentiles            `json:"findable_ms"`
	Maintenance    map[string]RoleTraffic `json:"maintenance"`     // quiet window, per role
	MeasureTraffic map[string]RoleTraffic `json:"measure_traffic"` // measure window (with operations), per role
	CPUPerLookupMS float64                `json:"cpu_ms_per_operation"`
	CPUIdleCores   float64                `json:"cpu_cores_quiet"`
	CPUBusyCores   float64                `json:"cpu_cores_measure"`
	JoinErrors     int                    `json:"join_errors"`
	JoinErr        string                 `json:"join_error_example,omitempty"`
	LateEvents     int                    `json:"late_events"`
	MaxLateMS      float64                `json:"max_late_ms"`
	SetupErr       string                 `json:"setup_error,omitempty"`
	// Upkeep: the periodic tasks, one measured round each; MaintPerS: the
	// quiet window's rate plus every task's amortised rate, per role.
	Upkeep    []UpkeepRec        `json:"upkeep"`
	MaintPerS map[string]float64 `json:"maint_bytes_per_s"`

	// Samples for the plots (every successful lookup, every found publish).
	LatRTT []float64 `json:"latency_rtt_samples"`
	FindMS []float64 `json:"findable_ms_samples"`
}

// Percentiles of a sample.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

func percentiles(xs []float64) Percentiles {
	if len(xs) == 0 {
		return Percentiles{}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		h := p * float64(len(s)-1)
		lo := int(h)
		hi := min(lo+1, len(s)-1)
		return s[lo] + (h-float64(lo))*(s[hi]-s[lo])
	}
	return Percentiles{N: len(s), P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: s[len(s)-1]}
}

// wilson is the 95% Wilson score interval of k successes out of n.
func wilson(k, n int) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	const z = 1.959964
	p, nf := float64(k)/float64(n), float64(n)
	den := 1 + z*z/nf
	c := (p + z*z/(2*nf)) / den
	h := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return math.Max(0, c-h), math.Min(1, c+h)
}

// Analyze turns a run into its statistics; rttMS is the RTT unit.
func Analyze(run *DesignRun, rttMS float64) DesignStats {
	st := DesignStats{Design: run.Design, Params: run.Params, SetupS: run.SetupS, WallS: run.WallS,
		HeapSetupMB: run.HeapSetupMB, RSSPeakMB: run.RSSPeakMB, Goroutines: run.Goroutines,
		Outcomes: map[string]int{}, Maintenance: run.maintenance, MeasureTraffic: run.measureTraff,
		JoinErrors: run.JoinErrors, JoinErr: run.JoinErr, LateEvents: run.LateEvents, MaxLateMS: run.MaxLateMS,
		SetupErr: run.SetupErr, Upkeep: run.Upkeep, MaintPerS: map[string]float64{}}
	for role, rt := range run.maintenance {
		st.MaintPerS[role] = rt.BytesPerS
	}
	for _, u := range run.Upkeep {
		for role, r := range u.RatePer {
			st.MaintPerS[role] += r
		}
	}
	var lat, rtt []float64
	for _, l := range run.Lookups {
		st.Lookups++
		st.Outcomes[l.Outcome]++
		if l.Outcome == OutcomeIssuerGone {
			continue
		}
		st.Counted++
		if l.Outcome == OutcomeSuccess {
			st.Succeeded++
			lat = append(lat, l.LatencyMS)
			rtt = append(rtt, l.LatencyMS/rttMS)
		}
	}
	if st.Counted > 0 {
		st.Success = float64(st.Succeeded) / float64(st.Counted)
	}
	st.SuccessLo, st.SuccessHi = wilson(st.Succeeded, st.Counted)
	st.LatencyMS, st.LatencyRTT = percentiles(lat), percentiles(rtt)
	st.LatRTT = rtt
	var ann, found []float64
	for _, p := range run.Publishes {
		st.Publishes++
		if p.AnnounceMS > 0 {
			ann = append(ann, p.AnnounceMS)
		}
		if p.FindableMS > 0 {
			st.Found++
			found = append(found, p.FindableMS)
		}
	}
	st.AnnounceMS, st.FindableMS = percentiles(ann), percentiles(found)
	st.FindMS = found
	// CPU: the measure window's CPU minus the quiet window's rate (churn
	// and upkeep only), per lookup or publish.
	var measure, quiet, end *Phase
	for i := range run.Phases {
		switch run.Phases[i].Name {
		case "measure":
			measure = &run.Phases[i]
		case "quiet":
			quiet = &run.Phases[i]
		case "end":
			end = &run.Phases[i]
		}
	}
	if measure != nil && quiet != nil && end != nil && end.At > quiet.At && quiet.At > measure.At {
		busy := (quiet.CPU - measure.CPU).Seconds() / (quiet.At - measure.At).Seconds()
		idle := (end.CPU - quiet.CPU).Seconds() / (end.At - quiet.At).Seconds()
		st.CPUBusyCores, st.CPUIdleCores = busy, idle
		if ops := st.Lookups + st.Publishes; ops > 0 {
			st.CPUPerLookupMS = math.Max(0, (busy-idle)*(quiet.At-measure.At).Seconds()/float64(ops)*1000)
		}
	}
	return st
}

// summarize fills the schema from one design's statistics.
func summarize(st DesignStats) *DesignSummary {
	ds := &DesignSummary{LookupP50RTT: st.LatencyRTT.P50, LookupP99RTT: st.LatencyRTT.P99,
		Success: st.Success, FindableP50MS: st.FindableMS.P50}
	if st.Design == DesignFlat {
		m := st.MaintPerS["dht"]
		ds.MaintBytesPerSSuper, ds.MaintBytesPerSLeaf = m, m
	} else {
		ds.MaintBytesPerSSuper = st.MaintPerS["supernode"]
		ds.MaintBytesPerSLeaf = st.MaintPerS["leaf"]
	}
	return ds
}

// durMS formats a duration in milliseconds.
func durMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
