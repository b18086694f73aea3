package scale

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/supertracker/supertracker/testnet/model"
)

func designOrder(rep *Report) []string {
	var out []string
	for _, d := range []string{DesignOverlay, DesignFlat} {
		if rep.Designs[d] != nil {
			out = append(out, d)
		}
	}
	return out
}

func plotFloat(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

// screen is the one-screen summary printed at the end.
func screen(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nscale: N=%d, %d supernodes, median link RTT %.1f ms, %s churn ×%g\n",
		rep.Config.N, rep.Summary.Supernodes, rep.RTTMedianMS, rep.Config.Churn.Name, rep.Config.Speedup)
	fmt.Fprintf(&b, "%-9s %9s %9s %9s %9s %12s %12s %10s\n", "design", "success", "p50 RTT", "p99 RTT", "p50 ms", "findable ms", "maint SN B/s", "leaf B/s")
	for _, d := range designOrder(rep) {
		st := rep.Designs[d]
		ds := summarize(*st)
		fmt.Fprintf(&b, "%-9s %9.4f %9.2f %9.2f %9.0f %12.0f %12.0f %10.0f\n", d, st.Success, st.LatencyRTT.P50,
			st.LatencyRTT.P99, st.LatencyMS.P50, st.FindableMS.P50, ds.MaintBytesPerSSuper, ds.MaintBytesPerSLeaf)
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func fmtBps(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f MB/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f kB/s", v/1e3)
	}
	return fmt.Sprintf("%.0f B/s", v)
}

// markdown is report.md: what ran, what it measured, side by side, and the
// extrapolation.
func markdown(rep *Report) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	c := rep.Config
	w("# Scale run: %d peers at wide-area latencies\n\n", c.N)
	w("_`%s`, %s._\n\n", rep.Command, rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
	w("**Network**: one process, go-libp2p mocknet; every pair of peers linked with a one-way delay of RTT/2, the RTT drawn per pair from %s (table median %.1f ms; median of the drawn links %.1f ms). ", rep.RTTSource, rep.RTTTableMS, rep.RTTMedianMS)
	w("**Churn**: %s; sessions ×1/%g; the run starts in the stationary regime (ages from the equilibrium age law), every departure is replaced at once by a newcomer (a leaf), so %d peers stay online; %d departures (%d of supernodes) and %d arrivals in the %s schedule; mean session %.0f min, median %.0f min. ",
		rep.ChurnSource, c.Speedup, c.N, rep.Schedule.Departures, rep.Schedule.SupernodeDeaths, rep.Schedule.Arrivals, c.Total(), rep.Schedule.MeanSessionMin, rep.Schedule.MedianSessionM)
	w("**Overlay**: %d supernodes (the election's defaults settle at N/16: a supernode takes 50 sessions and promotes at 90%% fill, a leaf holds a primary and 2 backups), the %d oldest peers (%d of the %d initial peers meet the 2 h uptime criterion); leaves know %d random supernodes at start. ",
		rep.Summary.Supernodes, rep.Summary.Supernodes, rep.Schedule.Eligible, rep.Schedule.Initial, c.BootstrapSupernodes)
	w("**Flat kad-dht**: every peer a stock go-libp2p-kad-dht v0.42.2 server on the same schedule (routing tables pre-filled as a converged network's; newcomers bootstrap).\n\n")
	w("**Workload**: %d objects (Zipf s=%g), each leaf holds %d; %g lookups/s for %s after a %s warm-up, of objects some other live peer has held for ≥ %s; %g new objects/s announced and then looked up by another peer every %s until found (time to findable); then a %s maintenance window (churn only).\n\n",
		c.Objects, c.ZipfS, c.HoldPerPeer, c.LookupRate, c.Measure, c.Warmup, c.Grace, c.PublishRate, PublishProbe, c.Quiet)
	w("| | overlay | flat kad-dht |\n|---|---|---|\n")
	row := func(name string, f func(*DesignStats) string) {
		w("| %s |", name)
		for _, d := range []string{DesignOverlay, DesignFlat} {
			if st := rep.Designs[d]; st != nil {
				w(" %s |", f(st))
			} else {
				w(" – |")
			}
		}
		w("\n")
	}
	row("lookup success (held, 95% CI)", func(s *DesignStats) string {
		return fmt.Sprintf("**%.4f** (%d/%d) [%.4f, %.4f]", s.Success, s.Succeeded, s.Counted, s.SuccessLo, s.SuccessHi)
	})
	row("lookup p50 / p90 / p99 (RTTs)", func(s *DesignStats) string {
		return fmt.Sprintf("%.2f / %.2f / %.2f", s.LatencyRTT.P50, s.LatencyRTT.P90, s.LatencyRTT.P99)
	})
	row("lookup p50 / p90 / p99 (ms)", func(s *DesignStats) string {
		return fmt.Sprintf("%.0f / %.0f / %.0f", s.LatencyMS.P50, s.LatencyMS.P90, s.LatencyMS.P99)
	})
	row("failures", func(s *DesignStats) string {
		var parts []string
		for _, k := range sortedKeys(s.Outcomes) {
			if k != OutcomeSuccess {
				parts = append(parts, fmt.Sprintf("%s %d", k, s.Outcomes[k]))
			}
		}
		if len(parts) == 0 {
			return "–"
		}
		return strings.Join(parts, ", ")
	})
	row("announce p50 (ms)", func(s *DesignStats) string { return fmt.Sprintf("%.0f", s.AnnounceMS.P50) })
	row("time to findable p50 / p90 (ms)", func(s *DesignStats) string {
		return fmt.Sprintf("%.0f / %.0f (%d/%d found)", s.FindableMS.P50, s.FindableMS.P90, s.Found, s.Publishes)
	})
	for _, role := range []string{"supernode", "leaf", "dht"} {
		row("maintenance per "+role+" (in + out)", func(s *DesignStats) string {
			v, ok := s.MaintPerS[role]
			if !ok {
				return "–"
			}
			return fmt.Sprintf("%s (continuous %s)", fmtBps(v), fmtBps(s.Maintenance[role].BytesPerS))
		})
	}
	row("CPU per operation", func(s *DesignStats) string { return fmt.Sprintf("%.2f ms", s.CPUPerLookupMS) })
	row("CPU: busy / quiet (cores)", func(s *DesignStats) string {
		return fmt.Sprintf("%.2f / %.2f", s.CPUBusyCores, s.CPUIdleCores)
	})
	row("setup; heap after setup; peak RSS", func(s *DesignStats) string {
		return fmt.Sprintf("%.0f s; %.0f MB; %.0f MB", s.SetupS, s.HeapSetupMB, s.RSSPeakMB)
	})
	row("late events (> 1 s)", func(s *DesignStats) string { return fmt.Sprintf("%d (max %.0f ms)", s.LateEvents, s.MaxLateMS) })
	w("\nMaintenance = the quiet window's rate (heartbeats, discovery, churn-driven repair, DHT traffic) plus each periodic task run once and spread over its period:\n\n")
	for _, d := range designOrder(rep) {
		for _, u := range rep.Designs[d].Upkeep {
			var parts []string
			for _, role := range sortedKeys(u.BytesPer) {
				parts = append(parts, fmt.Sprintf("%s %.0f B/round = %s", role, u.BytesPer[role], fmtBps(u.RatePer[role])))
			}
			w("- %s: %s every %s (round took %.0f s): %s\n", d, u.Name, u.Period, u.DurationS, strings.Join(parts, "; "))
		}
	}
	w("\n![lookup latency in RTTs](%s)\n\n![time to findable](%s)\n\n![maintenance](%s)\n\n", PlotLatency, PlotFindable, PlotMaint)
	if len(rep.Extrapolation) > 0 {
		writeExtrapolation(w, rep)
	}
	if len(rep.Errors) > 0 {
		w("**Errors**: %s\n", strings.Join(rep.Errors, "; "))
	}
	return b.String()
}

func writeExtrapolation(w func(string, ...any), rep *Report) {
	cal := rep.Calibration
	w("## Past one machine (model)\n\n")
	w("`model.PlanCapacity` (`supertracker-lab model --plan`) with this run's costs: a heartbeat round trip %.0f B, a record at a replica per refresh %.0f B, a lookup %.0f B over all nodes, μ = %.0f requests/s per core (a supernode process's: the real-process sweep measured ≈ 2,400, docs/results.md; the mocknet's CPU per operation above counts every node's work and the simulator's); supernodes' churn from the same session fit (mean remaining session of a peer up ≥ 2 h), replaced after 10 min (the election's demand window), with an empty store; membership traffic after OneHop (Gupta, Liskov, Rodrigues: 2S/MTTF events/s, every supernode learns each, 100 B each); target success 0.999; objects scale with N (%d per %d peers).\n\n",
		cal.HeartbeatBytes, cal.RecordBytes, cal.LookupBytes, cal.Mu, rep.Config.Objects, rep.Config.N)
	w("Bandwidth counts upkeep and the lookups at this run's rate (%.3f lookups/s per peer); a lookup's bytes are mostly its answer's signed holder records (up to 50), so the lookup share dominates both columns. The flat kad-dht column is its measured upkeep scaled by log2(N/k)/log2(1000/k), upkeep only.\n\n", rep.Config.LookupRate/float64(rep.Config.N))
	w("| peers | supernodes | r | leaves / sessions per SN | records per SN | memory per SN | bandwidth per SN (upkeep + lookups) | of which membership | per leaf (upkeep + lookups) | membership events/s | flat kad-dht per node (upkeep) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Extrapolation {
		p := r.Plan
		w("| %.0e | %d | %d | %.0f / %.0f | %.0f | %.1f MB | %s | %s | %s | %.1f | %s |\n", float64(r.Peers), p.Supernodes, p.Replicas,
			p.LeavesPerSupernode, p.SessionsPerSupernode, p.RecordsPerSupernode, p.MemPerSupernode/1e6, fmtBps(model.Total(p.SupernodeBps)),
			fmtBps(p.SupernodeBps["membership (OneHop)"]), fmtBps(model.Total(p.LeafBps)), p.EventsPerS, fmtBps(r.FlatBps))
	}
	w("\n")
}
