package metrics

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
)

// TestHandmade checks every figure of the Summary of testdata/handmade.jsonl
// against values computed by hand (see the comments).
//
// Timeline (t0 = schedule_start at 1.0 s; rel = T - 1.0 s; window 20 s,
// bins of 10 s; lookup timeout 1 s):
//
//	L1 op4  issued rel 3  ok 1/1 alive, 10 ms     success      answerable
//	L2 op5  issued rel 4  ok 2 holders/1 alive, 20 ms success  answerable
//	L3 op6  issued rel 5  timeout (1000 ms)                    obj2 never announced ok
//	L4 op8  issued rel 8  ok 1 holder/0 alive, 40 ms dead      node1 (holder of obj0) down 7..14
//	L5 op13 issued rel 12 ok 1/1, 30 ms           success      answerable
//	L6 op15 issued rel 14 ok 0 holders, 50 ms     no_holders   answerable (node1 back at 14)
//	L7 op16 issued rel 15 ok 1/1, 1500 ms         late         answerable
//	L8 op17 issued rel 16 error, 60 ms                         not answerable
func TestHandmade(t *testing.T) {
	log, err := events.ReadFile("testdata/handmade.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Compute(log, Options{Bin: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	want := &Summary{
		Version: 1, Scenario: "handmade", Seed: 7, Nodes: 4,
		DurationS: 20, WindowS: 20, T0S: 1, LookupTimeoutMS: 1000, BinS: 10,
		Ops: OpStats{
			Issued: 19, Skipped: 1,
			ByKind: map[string]int{"announce": 3, "lookup": 9, "kill": 2, "mass_failure": 1, "restart": 3, "kill_supernode": 1},
			Skips:  map[string]int{"lookup": 1},
		},
		Lookups: LookupStats{
			Total: 8, Succeeded: 3, SuccessRate: 0.375, // L1, L2, L5
			Answered: 6, Timeouts: 1, Errors: 1, NoHolders: 1, DeadHolders: 1, Late: 1,
			Answerable: 5, AnswerableSucceeded: 3, AnswerableSuccessRate: 0.6,
			RatePerS: 0.4, // 8 / 20 s
			// answered sorted [10 20 30 40 50 1500], N=6: p50 rank 3, p95 rank 6, p99 rank 6
			Latency: Latency{Count: 6, P50MS: 30, P95MS: 1500, P99MS: 1500, MeanMS: 275, MaxMS: 1500},
			// successful [10 20 30], N=3: p50 rank 2, p95 rank 3, p99 rank 3
			LatencySucceeded: Latency{Count: 3, P50MS: 20, P95MS: 30, P99MS: 30, MeanMS: 20, MaxMS: 30},
		},
		Announces: AnnounceStats{
			Total: 3, OK: 2, Timeouts: 1, Errors: 0, SuccessRate: float64(2) / 3,
			// [100 200], N=2: p50 rank 1, p95 rank 2, p99 rank 2
			Latency: Latency{Count: 2, P50MS: 100, P95MS: 200, P99MS: 200, MeanMS: 150, MaxMS: 200},
		},
		Bins: []Bin{
			// L1..L4; answered [10 20 40]; supernodes 1 throughout
			{StartS: 0, EndS: 10, Lookups: 4, Succeeded: 2, SuccessRate: 0.5, Answered: 3, P50MS: 20, P95MS: 40, P99MS: 40, SupernodesMean: 1},
			// L5..L8; answered [30 50 1500]; supernodes 2 for 7 s, 1 for 1 s, 0 for 0.5 s, 1 for 1.5 s
			{StartS: 10, EndS: 20, Lookups: 4, Succeeded: 1, SuccessRate: 0.25, Answered: 3, P50MS: 50, P95MS: 1500, P99MS: 1500, SupernodesMean: 1.65},
		},
		Supernodes: SupernodeStats{
			Min: 0, Max: 2,
			Mean:   1.325, // (10×1 + 7×2 + 1×1 + 0.5×0 + 1.5×1) / 20
			Series: []Point{{0, 1}, {10, 2}, {17, 1}, {18, 0}, {18.5, 1}},
			// samples: node0 (4 req/s, ρ 0.25), node0 (6, 0.5), node2 (2, 0.75)
			Samples: 3, MeanReqPerS: 4, MeanUtilisation: 0.5, MaxUtilisation: 0.75,
			PerNode: []SupernodeLoad{
				{Node: 0, Samples: 2, MeanReqPerS: 5, MaxReqPerS: 6, MeanUtilisation: 0.375, MaxUtilisation: 0.5, MeanLeaves: 2.5, MaxLeaves: 3, MaxRecords: 12},
				{Node: 2, Samples: 1, MeanReqPerS: 2, MaxReqPerS: 2, MeanUtilisation: 0.75, MaxUtilisation: 0.75, MeanLeaves: 1, MaxLeaves: 1, MaxRecords: 5},
			},
		},
		RoleChanges: RoleChangeStats{Total: 2, Promotions: 1, Demotions: 1, PerNode: []NodeCount{{0, 1}, {2, 1}}},
		Churn: ChurnStats{
			Starts: 4, Kills: 3,
			KillsByCause: map[string]int{"churn": 1, "mass_failure": 1, "targeted": 1},
			Shutdowns:    1, Restarts: 3, Exits: 1, MassFailures: 1,
		},
		// alive in [1 s, 21 s): node0 20, node1 6+7, node2 18+1.5, node3 9+8 = 69.5 of 80
		NodeAvailability: 69.5 / 80,
		Traffic: TrafficStats{
			// lookup: node1 10, +6, (restart) +4; node0 12 → 32 msgs, 3200 B
			Msgs: 52, Bytes: 6200,
			ByClass: map[string]ClassTraffic{
				"lookup": {32, 3200}, "announce": {6, 900}, "dht": {14, 2100},
			},
			MsgsPerLookup: 4, BytesPerLookup: 400, MsgsPerAnnounce: 2, BytesPerAnnounce: 300,
			MsgsPerOp: float64(52) / 11, BytesPerOp: float64(6200) / 11,
		},
		Resources: map[string]RoleResources{
			// node0: +1.0 cpu over 5 s, +1.5 over 5 s as supernode
			"supernode": {Samples: 2, CPUSeconds: 2.5, NodeSeconds: 10, CPUCores: 0.25, RSSMeanB: 110e6, RSSMaxB: 120e6},
			// node0 +0.5 over 8 s (sample says leaf); node1 +0.25 over 5 s, +0.5 over 2 s after restart
			"leaf": {Samples: 3, CPUSeconds: 1.25, NodeSeconds: 15, CPUCores: 1.25 / 15.0, RSSMeanB: 50e6, RSSMaxB: 80e6},
		},
	}
	// Marks: kills, restarts and the mass failure in [t0, end), rel. time.
	want.Marks = []Mark{{6, MarkKill, 1}, {9, MarkMassFailure, -1}, {11, MarkRestart, 3},
		{13, MarkRestart, 1}, {18, MarkTargeted, 2}, {18.5, MarkRestart, 2}}
	// Failures, first cause that applies:
	//   announce op3 node3 (rel 0.4): no kill, restart or error hint → unexplained
	//   L3 op6 node3 timeout (rel 5–6): node1's kill at rel 6 is a leaf's; node3
	//      reported no supernode from rel 4.5 to 5.5 → no supernode
	//   L4 op8 node2 dead holders (rel 8): answered → without a live holder
	//   L6 op15 node3 (rel 14): node3 restarted at rel 11 → issuer restarted
	//   L7 op16 node2 late (rel 15): mass failure at rel 9, within 10 s → mass failure
	//   L8 op17 node1 error (rel 16): node1 restarted at rel 13 → issuer restarted
	want.Failures = FailureStats{
		Lookups:   map[string]int{CauseNotAttached: 1, CauseNoLiveHolder: 1, CauseIssuerRestarted: 2, CauseMassFailure: 1},
		Announces: map[string]int{CauseUnexplained: 1},
		List: []Failure{
			{Op: "announce", OpID: 3, Node: 3, Object: 2, IssuedS: 0.4, Outcome: "timeout", Cause: CauseUnexplained, Error: "deadline exceeded"},
			{Op: "lookup", OpID: 6, Node: 3, Object: 2, IssuedS: 5, Outcome: OutcomeTimeout, Cause: CauseNotAttached},
			{Op: "lookup", OpID: 8, Node: 2, Object: 0, IssuedS: 8, Outcome: OutcomeDeadHolders, Cause: CauseNoLiveHolder},
			{Op: "lookup", OpID: 15, Node: 3, Object: 0, IssuedS: 14, Outcome: OutcomeNoHolders, Cause: CauseIssuerRestarted},
			{Op: "lookup", OpID: 16, Node: 2, Object: 1, IssuedS: 15, Outcome: OutcomeLate, Cause: CauseMassFailure},
			{Op: "lookup", OpID: 17, Node: 1, Object: 2, IssuedS: 16, Outcome: OutcomeError, Cause: CauseIssuerRestarted, Error: "connection refused"},
		},
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		gl, wl := strings.Split(string(g), "\n"), strings.Split(string(w), "\n")
		for i := range max(len(gl), len(wl)) {
			var a, b string
			if i < len(gl) {
				a = gl[i]
			}
			if i < len(wl) {
				b = wl[i]
			}
			if a != b {
				t.Errorf("line %d: got %s, want %s", i+1, a, b)
			}
		}
		t.Fatal("summary mismatch")
	}
}

func TestLookupRows(t *testing.T) {
	log, err := events.ReadFile("testdata/handmade.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := LookupRows(log)
	if err != nil {
		t.Fatal(err)
	}
	wantOutcomes := []string{OutcomeSuccess, OutcomeSuccess, OutcomeTimeout, OutcomeDeadHolders,
		OutcomeSuccess, OutcomeNoHolders, OutcomeLate, OutcomeError}
	wantAnswerable := []bool{true, true, false, false, true, true, true, false}
	wantIssued := []time.Duration{3, 4, 5, 8, 12, 14, 15, 16}
	if len(rows) != len(wantOutcomes) {
		t.Fatalf("%d rows, want %d", len(rows), len(wantOutcomes))
	}
	for i, r := range rows {
		if r.Outcome != wantOutcomes[i] || r.Answerable != wantAnswerable[i] || r.Issued != wantIssued[i]*time.Second {
			t.Errorf("row %d: %+v; want outcome %s answerable %v issued %ds", i, r, wantOutcomes[i], wantAnswerable[i], wantIssued[i])
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	ds := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x)
		}
		return out
	}
	cases := []struct {
		in   []time.Duration
		p    int
		want time.Duration
	}{
		{nil, 50, 0},
		{ds(7), 1, 7}, {ds(7), 50, 7}, {ds(7), 100, 7},
		{ds(1, 2), 50, 1}, {ds(1, 2), 51, 2},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 50, 5}, {ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 95, 10},
		{ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9}, {ds(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 91, 10},
	}
	for _, c := range cases {
		if got := Percentile(c.in, c.p); got != c.want {
			t.Errorf("Percentile(%v, %d) = %v, want %v", c.in, c.p, got, c.want)
		}
	}
	// 100 values 1..100: pXX is XX.
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, time.Duration(i))
	}
	for _, p := range []int{1, 50, 95, 99, 100} {
		if got := Percentile(hundred, p); got != time.Duration(p) {
			t.Errorf("p%d of 1..100 = %v", p, got)
		}
	}
}

func TestOutcome(t *testing.T) {
	to := time.Second
	cases := []struct {
		l    events.LookupResult
		want string
	}{
		{events.LookupResult{Status: "ok", Holders: 2, HoldersAlive: 1, Latency: to}, OutcomeSuccess}, // latency == timeout counts
		{events.LookupResult{Status: "ok", Holders: 2, HoldersAlive: 1, Latency: to + 1}, OutcomeLate},
		{events.LookupResult{Status: "ok", Holders: 2, HoldersAlive: 0}, OutcomeDeadHolders},
		{events.LookupResult{Status: "ok"}, OutcomeNoHolders},
		{events.LookupResult{Status: "timeout"}, OutcomeTimeout},
		{events.LookupResult{Status: "error"}, OutcomeError},
	}
	for _, c := range cases {
		if got := Outcome(c.l, to); got != c.want {
			t.Errorf("Outcome(%+v) = %s, want %s", c.l, got, c.want)
		}
	}
}

func TestEmptyLogAndErrors(t *testing.T) {
	log := &events.Log{Run: events.Run{Scenario: "x", Nodes: 2, Duration: 10 * time.Second, LookupTimeout: time.Second}}
	s, err := Compute(log, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.BinS != 5 || len(s.Bins) != 2 || s.Lookups.SuccessRate != 0 || s.Supernodes.Mean != 0 ||
		len(s.Supernodes.Series) != 1 || s.NodeAvailability != 0 {
		t.Fatalf("unexpected summary of an empty log: %+v", s)
	}
	if _, err := json.Marshal(s); err != nil {
		t.Fatal(err)
	}
	log.Events = []events.Event{{T: 1, Payload: events.ScheduleStart{}}, {T: 2, Payload: events.ScheduleStart{}}}
	if _, err := Compute(log, Options{}); err == nil {
		t.Fatal("two schedule_start events accepted")
	}
	if _, err := Compute(nil, Options{}); err == nil {
		t.Fatal("nil log accepted")
	}
}

func TestInvalidProgrammaticLog(t *testing.T) {
	log := &events.Log{
		Run:    events.Run{Scenario: "x", Nodes: 2, Duration: time.Second, LookupTimeout: time.Second},
		Events: []events.Event{{T: 1, Payload: events.NodeStart{Node: 5, Role: events.RoleLeaf}}},
	}
	if _, err := Compute(log, Options{}); !errors.Is(err, ErrBadLog) {
		t.Fatalf("out-of-range node accepted: %v", err)
	}
	if _, err := Compute(&events.Log{}, Options{}); !errors.Is(err, ErrBadLog) {
		t.Fatalf("missing header accepted: %v", err)
	}
	if TimeZero(log) != 0 {
		t.Fatal("TimeZero without schedule_start")
	}
}
