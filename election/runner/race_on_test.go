//go:build race

package runner_test

// raceEnabled: the race detector slows these many-host scenarios 5–10×,
// which distorts their timings (heartbeats, TTLs); they run smaller then.
const raceEnabled = true
