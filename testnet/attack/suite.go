package attack

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

// Options selects and sizes the suite.
type Options struct {
	// Short is the CI version: fewer k, a shorter flood, no latency bound.
	Short bool
	// Binary is the supertracker binary the flood and web attempts run
	// ("": those rows are not run).
	Binary string
	// FloodDuration overrides the flood's length.
	FloodDuration time.Duration
	// Points limits the run to these acceptance points (empty: all).
	Points []int
	// Progress, if set, gets a line as each part starts.
	Progress io.Writer
}

// Run runs the suite and returns every row.
func Run(ctx context.Context, o Options) []Row {
	want := func(p int) bool { return len(o.Points) == 0 || slices.Contains(o.Points, p) }
	say := func(format string, args ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "attack: "+format+"\n", args...)
		}
	}
	var rows []Row
	if want(1) {
		say("1: injection")
		rs, err := RunInjection(ctx, InjectionConfig{})
		if err != nil {
			rs = []Row{Failed(1, "injection", err)}
		}
		rows = append(rows, rs...)
	}
	if want(2) {
		say("2: eclipse")
		if o.Short {
			rows = append(rows, RunEclipse(ctx, EclipseConfig{Ks: []int{4}, Targets: 3})...)
		} else {
			rows = append(rows, RunEclipse(ctx, EclipseConfig{Ks: []int{1, 4, 8}})...)
			rows = append(rows, RunEclipse(ctx, EclipseConfig{Ks: []int{8}, Mode: Stall})...)
		}
		rows = append(rows, RunViewFlood(ctx, ViewFloodConfig{}))
		rows = append(rows, RunStuffing(ctx, StuffingConfig{}))
	}
	if want(3) {
		say("3: lying primary")
		rows = append(rows, RunLyingPrimary(ctx)...)
	}
	if want(4) {
		say("4: flood")
		fc := FloodConfig{Binary: o.Binary, Duration: o.FloodDuration, CheckLatency: !o.Short}
		if o.Short {
			fc.Envelopes = 8
			fc.Baseline = 2 * time.Second
			if fc.Duration == 0 {
				fc.Duration = 8 * time.Second
			}
		}
		rows = append(rows, RunFlood(ctx, fc)...)
		rows = append(rows, RunSlotExhaustion(ctx, 48))
		rows = append(rows, RunStoreFlood(ctx, StoreFloodConfig{}))
	}
	if want(5) {
		say("5: web pages")
		rows = append(rows, RunWeb(ctx, WebConfig{Binary: o.Binary})...)
	}
	return rows
}
