package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// num formats a value for a table: up to four significant digits, no
// exponent for everyday magnitudes.
func num(x float64) string {
	switch a := abs(x); {
	case a == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 2, 64)
	case a >= 0.01:
		return strconv.FormatFloat(x, 'f', 3, 64)
	}
	return strconv.FormatFloat(x, 'g', 3, 64)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// markdownTable is bench.md: one line per row.
func markdownTable(rep *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# supertracker bench (%s run, git %s, %s)\n\n", rep.Mode, rep.Git, rep.Date)
	fmt.Fprintf(&b, "ratio = ours / baseline, median over rounds (min–max). Below 1 ours is lower (faster, smaller); in rows marked *(higher is better)* above 1 is better.\n\n")
	writeTable(&b, rep)
	if len(rep.Errors) > 0 {
		b.WriteString("\n## Failed measurements\n\n")
		for _, e := range rep.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}
	return b.String()
}

func writeTable(b *strings.Builder, rep *Report) {
	b.WriteString("| id | variant | metric | ours | baseline | baseline value | ratio | ratio min–max | unit | rounds |\n")
	b.WriteString("|---|---|---|---:|---|---:|---:|---:|---|---:|\n")
	for _, r := range rep.Rows {
		metric := r.Metric
		if isThroughput(r) {
			metric = shortMetric(r.Metric) + " *(higher is better)*"
		}
		fails := ""
		if r.OursFailures+r.BaselineFailures > 0 {
			fails = fmt.Sprintf(" (failed ops: ours %d, baseline %d)", r.OursFailures, r.BaselineFailures)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | **%s** | %s–%s | %s | %d%s |\n",
			r.ID, r.Variant, metric, num(r.Ours), r.Baseline, num(r.BaselineValue), num(r.Ratio), num(r.RatioMin), num(r.RatioMax), r.Unit, r.Rounds, fails)
	}
}

// performanceDoc is docs/performance.md, written by a full run.
func performanceDoc(rep *Report) string {
	var b strings.Builder
	m := rep.Machine
	b.WriteString("# Performance: supertracker side by side with flat kad-dht and opentracker\n\n")
	b.WriteString("Written by `make bench` (package `testnet/bench`); rerun it to refresh this page. ")
	b.WriteString("`make bench QUICK=1` is the three-minute version (it does not touch this file). ")
	b.WriteString("Every run also writes `bench-out/bench.json` (the same rows with per-round values), `bench-out/bench.md` and `bench-out/bench.png`.\n\n")
	fmt.Fprintf(&b, "- **Date:** %s (run took %s)\n", rep.Date, fmtWall(rep.WallSeconds))
	fmt.Fprintf(&b, "- **Commit:** `%s`\n", rep.Git)
	fmt.Fprintf(&b, "- **Machine:** %d CPUs (%s), %.1f GB RAM, Linux %s, %s; opentracker: %s\n", m.CPUs, orDash(m.Model), m.MemGB, orDash(m.Kernel), m.Go, orDash(m.Opentracker))
	if len(m.LoadAvg) > 0 {
		fmt.Fprintf(&b, "- **Load average during the run** (1-minute, sampled every %.0f s, %d samples): min %.2f, median %.2f, max %.2f\n",
			m.LoadEvery, len(m.LoadAvg), slices.Min(m.LoadAvg), median(m.LoadAvg), slices.Max(m.LoadAvg))
	}
	c := rep.Config
	fmt.Fprintf(&b, "- **Rounds:** %d, interleaved (ours, then the baseline, in every round); a row's value is the median over rounds, its ratio the median of the per-round ratios, with their min–max\n\n", c.Rounds)

	b.WriteString("## Results\n\n")
	b.WriteString("ratio = ours / baseline. Below 1 ours is lower (faster, smaller); in rows marked *(higher is better)* above 1 is better.\n\n")
	writeTable(&b, rep)
	if len(rep.Errors) > 0 {
		b.WriteString("\n**Failed measurements in this run** (their rows are missing or have fewer rounds):\n\n")
		for _, e := range rep.Errors {
			fmt.Fprintf(&b, "- %s\n", e)
		}
	}

	b.WriteString("\n## What each row measures\n\n")
	fmt.Fprintf(&b, "All nodes are real libp2p hosts (TCP) on 127.0.0.1 in the bench process unless a row says *process*; the two CPUs are shared by everything, clients included. Networks are built once per size and used for every round.\n\n")
	fmt.Fprintf(&b, "- **P1** lookup latency at N = %s: S = N/5 supernodes (r = %d, the default), the rest leaves (primary + 2 backups each); %d objects with one holder each; %d lookups per variant and side per round from 4 leaves that hold nothing, each with its own HTTP API (`protocol/httpapi`). "+
		"*http-default-limit* sends no `limit` (the API's default, %d holders), *http-limit=1* sends `limit=1`, *go-agent-lookup* calls `leaf.Agent.Lookup` (default limit) in process. "+
		"Baselines: a flat kad-dht of N stock servers (`FindProvidersAsync(c, 1)`, time to the first provider, as `testnet/baseline/flatdht`), and opentracker (an HTTP announce with `numwant=50` on a new connection). A lookup that finds nobody within 10 s counts as failed and not in the latency.\n",
		joinInts(c.Ns), replicationFactor, c.Objects, c.Lookups, 50)
	fmt.Fprintf(&b, "- **P2** %d fresh CIDs per side per round: leaf A announces through its HTTP API; once that returns, leaf B on another primary supernode looks it up (HTTP API, default limit) until it finds A. Flat kad-dht: `Provide(c, true)` on one node, then `FindProvidersAsync(c, 1)` from another. Also the announce call itself against the `Provide` call.\n", c.Pairs)
	fmt.Fprintf(&b, "- **P3** one supernode in an overlay of S = %d (r = %d, the default): %d leaf agents attached to it alone announce fresh CIDs in closed loops for %.0f s (the load generator is `testnet/bench/loadgen.go`; the leaves' signing runs on the same CPUs). Records/s = CIDs accepted / time; each record is stored on r supernodes. "+
		"Baseline: opentracker, %d closed-loop clients (each from its own 127.0.1.x, a new TCP connection per announce as opentracker closes), each announce registering a new torrent-peer (`numwant=0`). The bench opens up the supernode's per-peer token bucket (default 50 req/s), which also meters supernode→supernode replication.\n",
		c.P3S, replicationFactor, c.Workers, c.LoadS, c.Workers)
	fmt.Fprintf(&b, "- **P4** a leaf process (`bin/supertracker-leaf leaf`: the leaf-only build, `-tags leafonly`; default flags, attached to a primary and 2 backups, announcing nothing) against one flat kad-dht server process (`testnet/baseline` helper, `baseline-node … supernode`), each joining the in-process network of the same N; both measured over the same %.0f s window once the network is quiet. CPU two ways: utime+stime from `/proc/PID/stat` (10 ms ticks, so a round where the baseline used no tick has no ratio) and the threads' run time from `/proc/PID/task/*/schedstat` (ns); RSS = `VmRSS` at the window's end. The flat-DHT process also samples its own `/proc` once a second (its load meter).\n", c.IdleWindowS)
	fmt.Fprintf(&b, "- **P5** one supernode with a leveldb datastore (no fsync per write, as the daemon's), filled through `StoreAnnouncement` with announcements signed beforehand (%d holders per object, up to 1000 leaves, 256 CIDs per announcement) at %s records; heap = Go `HeapAlloc` growth after GC / records (it includes leveldb's memtable and caches, which dominate at small sizes), disk = the datastore directory after the supernode closed and a full compaction / records. "+
		"Baselines: stock kad-dht's provider store (`dht.ProviderStore().AddProvider`) on the same datastore kind with the same records, and opentracker's RSS growth per torrent-peer at %s.\n",
		c.StoreHolders, joinSizes(c.StoreSizes), joinSizes(c.TrackerStoreSizes))
	fmt.Fprintf(&b, "- **growth** at S = %s supernodes (%d ordinary leaves + the %d load leaves): lookup p50 through the HTTP API (default limit) and 1-CID registrations/s of one supernode, both against opentracker (whose cost does not depend on S, so a row's ratio across S shows how ours grows; a flat kad-dht of S ≤ 20 servers is no lookup baseline, since with k = 20 every server stores every record).\n", joinInts(c.GrowthS), c.GrowthLeaves, c.Workers)
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func fmtWall(s float64) string {
	return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
}

func joinInts(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, strconv.Itoa(x))
	}
	return strings.Join(s, ", ")
}

func joinSizes(xs []int) string {
	var s []string
	for _, x := range xs {
		s = append(s, sizeName(x))
	}
	return strings.Join(s, ", ")
}
