// Package events defines the raw event log of a testnet run: versioned JSONL,
// one event per line, written by the launcher while the run goes on and read
// back by package metrics. Every figure of a run is computed from this log
// alone.
//
// Line format (version 1):
//
//	{"v":1,"t_ns":<int64>,"kind":"<kind>", ...kind-specific fields...}
//
// t_ns is the time of the event in nanoseconds since the [Writer] was created
// (Writer.Now). The first line is always the "run" header ([Run]). The
// launcher emits "schedule_start" when it starts executing the workload
// schedule: that instant is the schedule's time zero, and metrics measure all
// time series from it (events before it, such as process start-up, are
// fine). Lines need not be in time order (results are logged on completion
// from concurrent goroutines); readers sort by time.
//
// What the launcher emits, and when:
//
//   - [Run] (kind "run"): written by NewWriter as line 1.
//   - [NodeStart]: when a node process has been started (role it starts in).
//   - [ScheduleStart]: when schedule time zero is reached.
//   - [OpIssued] (kind "op"): for every schedule op when its time comes, with
//     Skipped set if it was not executed (e.g. "node_down").
//   - [LookupResult]: when a lookup completes, times out or fails. Its t_ns is
//     the completion time; the issue time is t_ns - latency_ns. HoldersAlive
//     is the number of returned holders whose process is alive at that moment.
//   - [AnnounceResult]: when an announce completes, times out or fails.
//   - [NodeKill] when the launcher kills a node (Cause "churn", "targeted",
//     "mass_failure", "manual"; "shutdown" for the end of the run, which is
//     not churn), [NodeRestart] when it restarts one, [NodeExit] when a
//     process dies by itself.
//   - [RoleChange]: when a node reports a new role (polled or pushed).
//   - [SupernodeSample]: periodically (e.g. every second) per supernode.
//   - [ResourceSample]: periodically per live node (cumulative CPU seconds of
//     the process, current RSS).
//   - [TrafficSample]: periodically per live node, cumulative message and
//     byte counters per traffic class since the process started.
//   - [RunEnd]: optional, when the run stops (before the shutdown kills).
//
// Counters in ResourceSample and TrafficSample are cumulative per process
// incarnation and start from zero when the process (re)starts.
//
// [Writer] is safe for concurrent use and buffered (call Flush or Close).
// [Reader] validates every line strictly (unknown kind or field, bad value,
// node out of range) and reports the line number in a *[LineError].
package events
