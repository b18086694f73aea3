// Package metrics computes the figures of a testnet run from its raw event log
// (package events) and nothing else.
//
// Time: all series are relative to schedule time zero t0 (the
// "schedule_start" event; 0 if absent) and cover the window
// [t0, t0 + duration), cut short by a "run_end" event inside it.
//
// Lookup success follows the tracker paper's criterion (probability of lookup
// success): a lookup succeeds iff it returned at least one holder that was
// alive at that moment (holders_alive >= 1), with status "ok", within the
// lookup timeout (latency <= timeout). Every lookup result falls in exactly
// one outcome: success, timeout, error, no_holders (answered, empty),
// dead_holders (answered, no holder alive) or late (alive holder, but after
// the timeout). Ops that the launcher skipped are not lookups.
//
// A lookup is "answerable" when, at its issue time, some node whose announce
// of that object had completed "ok" by then is alive (node_start/restart to
// node_kill/exit). The answerable success rate separates tracker failures
// from objects that nobody alive holds.
//
// Percentiles use the nearest-rank method: the p-th percentile of N sorted
// values is the value at 1-based rank ceil(p·N/100) (integer arithmetic);
// 0 when N = 0. Latency percentiles are over answered (status "ok") lookups,
// and separately over successful ones. A lookup is binned by its issue time
// (t_ns - latency_ns), clamped into the window's bins.
//
// Supernode count at time t = live nodes whose role (from node_start /
// node_restart, then role_change) is supernode; min/max are over the
// intervals of positive length in the window, mean is time-weighted.
//
// Cumulative counters (CPU seconds, traffic msgs/bytes) are per process
// incarnation: a node_start/node_restart resets the baseline to zero, and a
// counter that decreases is treated as a reset too. CPU increments and the
// elapsed time since the previous sample (or the incarnation start) are
// credited to the role in the sample; cpu_cores = cpu_s / node_s.
// Messages and bytes per lookup use traffic class "lookup" divided by the
// number of lookup results; per announce, class "announce" over announce
// results; per op, all classes over lookups + announces.
package metrics
