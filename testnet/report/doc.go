// Package report turns a run's event log and its metrics.Summary into files
// in an output directory:
//
//	summary.json        metrics.Summary, indented
//	summary.txt         the one-screen text summary (also WriteText)
//	lookups.csv         one row per lookup result (issue/done time, outcome, ...)
//	supernodes.csv      one row per supernode sample
//	bins.csv            the per-bin time series (success, latency, supernodes)
//	supernode_count.csv the supernode-count step series
//	success.png         lookup success rate over time
//	latency.png         lookup latency p50/p95/p99 over time
//	supernodes.png      supernode count over time
//
// Plots are drawn with gonum.org/v1/plot. Times are seconds since schedule
// time zero. Progress is a small wrapper around schollz/progressbar/v3 for
// the launcher's console, disabled when the output is not a terminal.
package report
