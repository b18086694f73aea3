// Package scenario defines a testnet scenario: what a supertracker testnet run
// does (how many node processes, with which profiles, which workload and which
// churn), loaded from strictly validated JSON.
//
// Two scenarios are built in (embedded from testnet/scenarios, so a binary
// needs no files): "default" (12 nodes, 90 s, churn + election) and "smoke"
// (6 nodes, 30 s). Use [Builtin], [Open], [Load] or [Parse].
//
// Parsing is strict: unknown fields, trailing data, wrong types and invalid
// values are rejected with a *[FieldError] naming the offending field (a JSON
// path such as "profiles[2].mttf"); every such error wraps
// [ErrInvalidScenario].
//
// Durations are Go duration strings ("90s", "1m30s"); fields documented as
// optional durations also accept "none" (infinite: never fails / never
// restarts). Rates are events per second over the whole testnet.
//
// Nodes are numbered 0..nodes-1 in profile order: the first profile's nodes
// come first (see [Scenario.NodeSpecs]).
package scenario
