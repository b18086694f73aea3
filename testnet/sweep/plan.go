package sweep

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/supertracker/supertracker/testnet/scenario"
)

// Design is one of the three tracker designs a sweep measures.
type Design string

// The designs.
const (
	Overlay Design = "overlay" // supertracker: supernodes + leaves (the paper's P+DHT+A)
	Server  Design = "server"  // n opentracker servers, clients use all (DS+M+U)
	FlatDHT Design = "flatdht" // every peer a stock kad-dht server
)

// AllDesigns in report order.
var AllDesigns = []Design{Overlay, Server, FlatDHT}

// Params describe one measured point: the scenario every design runs and
// the design knobs. Times are durations; MTTF 0 means no churn.
type Params struct {
	// Trackers (S) is the number of nodes of the "tracker" profile: role
	// hint supernode, failing with MTTF/MTTR. They are the overlay's
	// supernodes; the first n of them host the server design's n
	// opentracker servers; in the flat DHT they are DHT servers like
	// everyone else.
	Trackers int `json:"trackers"`
	// Peers is the number of nodes of the "peer" profile: leaves that hold
	// objects and never fail (the paper's model is about the tracker, not
	// about holders going away).
	Peers          int           `json:"peers"`
	Duration       time.Duration `json:"duration_ns"`
	Warmup         time.Duration `json:"warmup_ns"`
	Objects        int           `json:"objects"`
	InitialHolders int           `json:"initial_holders"`
	AnnounceRate   float64       `json:"announce_rate"`
	LookupRate     float64       `json:"lookup_rate"` // λ, lookups/s over the testnet
	LookupTimeout  time.Duration `json:"lookup_timeout_ns"`
	MTTF           time.Duration `json:"mttf_ns"` // tracker profile; 0: never fails
	MTTR           time.Duration `json:"mttr_ns"`
	// Replication m: the overlay's --replication m and --backups m-1
	// (every hop has m replicas: the leaf's primary + backups, and the
	// record's r supernodes); the server design's n = m servers; the flat
	// DHT's kad-dht bucket size k = m (records on the m closest peers).
	Replication int `json:"replication"`
	// Refresh: how often holders re-announce in every design (the
	// overlay's record TTL is 3×Refresh, leaves refresh at TTL/3).
	Refresh time.Duration `json:"refresh_ns"`
}

// Nodes is S + peers.
func (p Params) Nodes() int { return p.Trackers + p.Peers }

// Key names the point uniquely (runs are shared between sweeps that
// visit the same point).
func (p Params) Key() string {
	f := "none"
	if p.MTTF > 0 {
		f = p.MTTF.String()
	}
	return fmt.Sprintf("S%d_P%d_l%s_f%s_r%s_m%d_d%s", p.Trackers, p.Peers,
		strconv.FormatFloat(p.LookupRate, 'g', -1, 64), f, p.MTTR, p.Replication, p.Duration)
}

// Validate checks the parameters a scenario cannot check.
func (p Params) Validate() error {
	switch {
	case p.Trackers < 1 || p.Peers < 1:
		return fmt.Errorf("sweep: need ≥ 1 tracker node and ≥ 1 peer")
	case p.Nodes() > 16:
		return fmt.Errorf("sweep: %d nodes; keep runs at ≤ 16 nodes", p.Nodes())
	case p.Replication < 1 || p.Replication > p.Trackers:
		return fmt.Errorf("sweep: replication %d outside [1, trackers=%d]", p.Replication, p.Trackers)
	case p.Refresh <= 0:
		return fmt.Errorf("sweep: refresh must be > 0")
	case p.MTTF > 0 && p.MTTR <= 0:
		return fmt.Errorf("sweep: MTTR must be > 0 with churn")
	}
	_, err := p.Scenario()
	return err
}

// Scenario builds the scenario every design runs at this point (validated).
func (p Params) Scenario() (*scenario.Scenario, error) {
	mttf, mttr := scenario.None(), scenario.None()
	if p.MTTF > 0 {
		mttf, mttr = scenario.D(p.MTTF), scenario.D(p.MTTR)
	}
	sc := &scenario.Scenario{
		Name: "sweep-" + p.Key(),
		Description: fmt.Sprintf("sweep point: %d tracker nodes (MTTF %s, MTTR %s), %d peers, λ=%g lookups/s, m=%d",
			p.Trackers, mttf, mttr, p.Peers, p.LookupRate, p.Replication),
		Seed:      1,
		Duration:  scenario.D(p.Duration),
		Warmup:    scenario.D(p.Warmup),
		NodeCount: p.Nodes(),
		Profiles: []scenario.Profile{
			{Name: "tracker", Count: p.Trackers, UploadBps: 1 << 20, MTTF: mttf, MTTR: mttr, Role: scenario.RoleSupernode},
			{Name: "peer", Count: p.Peers, UploadBps: 256 << 10, MTTF: scenario.None(), MTTR: scenario.None(), Role: scenario.RoleLeaf},
		},
		Objects:        p.Objects,
		Zipf:           scenario.Zipf{S: 1, V: 1},
		InitialHolders: p.InitialHolders,
		AnnounceRate:   p.AnnounceRate,
		LookupRate:     p.LookupRate,
		LookupTimeout:  scenario.D(p.LookupTimeout),
		Churn:          scenario.Churn{Enabled: p.MTTF > 0},
		// Not used: the sweep runs the overlay in the launcher's classic
		// mode (fixed supernodes), but the scenario needs valid values.
		Election:  scenario.Election{MinUptime: "10s", MinUpload: "131072", MaxLeaves: "50"},
		MaxEvents: 100000,
	}
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return sc, nil
}

// Sweep varies one parameter over Values.
type Sweep struct {
	Name   string    `json:"name"` // "load", "churn", "replication"
	Figure string    `json:"figure"`
	Title  string    `json:"title"`
	XLabel string    `json:"xlabel"`
	Values []float64 `json:"values"`
	LogX   bool      `json:"log_x"`
	// Curve: the model curve's x range.
	CurveFrom, CurveTo float64 `json:"-"`
}

// Apply sets the swept parameter of p to x.
func (s Sweep) Apply(p Params, x float64) Params {
	switch s.Name {
	case "load":
		p.LookupRate = x
	case "churn":
		p.MTTF = time.Duration(x * float64(time.Second))
	case "replication":
		p.Replication = int(math.Round(x))
	}
	return p
}

// Plan is a whole sweep invocation.
type Plan struct {
	Name    string   `json:"name"`
	Base    Params   `json:"base"`
	Sweeps  []Sweep  `json:"sweeps"`
	Seeds   []uint64 `json:"seeds"`
	Designs []Design `json:"designs"`
	// Tolerance X: a point passes when the 95% interval of the measured
	// success overlaps [model − X, model + X]. The claim is made for the
	// points where the model's assumptions hold (see InScope).
	Tolerance float64 `json:"tolerance"`
	// HoldGrace: a lookup counts as "held" (a live holder exists) when a
	// peer was issued an announce of the object at least this long before.
	HoldGrace time.Duration `json:"hold_grace_ns"`
	// MinSettle: schedule time zero no earlier than this after the first
	// node started (DHT routing tables form), for every design alike.
	MinSettle time.Duration `json:"min_settle_ns"`
	// MembershipRepair: the overlay's repair on membership change (the
	// record path v2: a live replica pushes the records of a supernode that
	// died to the next closest), as the model with repair's delay
	// (supernode.LocalConfig's RepairDelay plus a gossip round); 0: the
	// overlay binary has no such repair (sweeps stored before it).
	MembershipRepair time.Duration `json:"membership_repair_ns,omitempty"`
}

// membershipRepairLocal is the local preset's repair delay (200 ms) plus
// one gossip round (1 s).
const membershipRepairLocal = 1200 * time.Millisecond

// DefaultTolerance is the ±X of the model check.
const DefaultTolerance = 0.05

// Sweep names.
const (
	SweepLoad        = "load"
	SweepChurn       = "churn"
	SweepReplication = "replication"
)

func loadSweep(vals ...float64) Sweep {
	return Sweep{Name: SweepLoad, Figure: "fig2-load.png", Title: "Lookup success vs load (cf. paper Fig. 2)",
		XLabel: "lookup rate λ (lookups/s, log scale)", Values: vals, LogX: true, CurveFrom: 1, CurveTo: 1e5}
}

func churnSweep(vals ...float64) Sweep {
	return Sweep{Name: SweepChurn, Figure: "fig3-churn.png", Title: "Lookup success vs tracker-node MTTF (cf. paper Fig. 3)",
		XLabel: "MTTF of tracker nodes (s, log scale; MTTR fixed)", Values: vals, LogX: true, CurveFrom: 1, CurveTo: 1000}
}

func replicationSweep(vals ...float64) Sweep {
	return Sweep{Name: SweepReplication, Figure: "fig4-replication.png", Title: "Lookup success vs replication (cf. paper Fig. 4)",
		XLabel: "replication (overlay m = r = 1+backups, server n, flat-DHT bucket k)", Values: vals, CurveFrom: 1, CurveTo: 6}
}

// FullPlan is what `make figures` runs: 9 distinct points (the three
// sweeps share the base point), 2 seeds, 3 designs, 30 s runs on 12 nodes.
func FullPlan() Plan {
	base := Params{
		Trackers: 6, Peers: 6,
		Duration: 30 * time.Second, Warmup: 6 * time.Second,
		Objects: 30, InitialHolders: 3, AnnounceRate: 0.5,
		LookupRate: 20, LookupTimeout: 3 * time.Second,
		MTTF: 20 * time.Second, MTTR: 5 * time.Second,
		Replication: 2, Refresh: 5 * time.Second,
	}
	return Plan{
		Name: "full", Base: base,
		Sweeps: []Sweep{
			loadSweep(5, 20, 80),
			churnSweep(5, 10, 20, 60),
			replicationSweep(1, 2, 3, 4),
		},
		Seeds: []uint64{1, 2}, Designs: AllDesigns,
		Tolerance: DefaultTolerance, HoldGrace: 2 * time.Second, MinSettle: 3 * time.Second,
		MembershipRepair: membershipRepairLocal,
	}
}

// QuickPlan is the CI sweep: 2 points × 1 run × 3 designs on 5 nodes, 8 s
// runs, with churn fast enough that the tracker nodes (and so the
// opentracker servers) are killed and restarted.
func QuickPlan() Plan {
	base := Params{
		Trackers: 2, Peers: 3,
		Duration: 8 * time.Second, Warmup: 2 * time.Second,
		Objects: 8, InitialHolders: 2, AnnounceRate: 0.5,
		LookupRate: 8, LookupTimeout: 2 * time.Second,
		MTTF: 3 * time.Second, MTTR: 2 * time.Second,
		Replication: 2, Refresh: 3 * time.Second,
	}
	return Plan{
		Name: "quick", Base: base,
		Sweeps:    []Sweep{churnSweep(3, 30)},
		Seeds:     []uint64{1},
		Designs:   AllDesigns,
		Tolerance: DefaultTolerance, HoldGrace: time.Second, MinSettle: time.Second,
		MembershipRepair: membershipRepairLocal,
	}
}

// Validate checks every point of the plan.
func (pl Plan) Validate() error {
	if len(pl.Seeds) == 0 || len(pl.Designs) == 0 || len(pl.Sweeps) == 0 {
		return fmt.Errorf("sweep: plan needs seeds, designs and sweeps")
	}
	if !(pl.Tolerance >= 0 && pl.Tolerance < 1) {
		return fmt.Errorf("sweep: tolerance %v outside [0, 1)", pl.Tolerance)
	}
	for _, d := range pl.Designs {
		switch d {
		case Overlay, Server, FlatDHT:
		default:
			return fmt.Errorf("sweep: unknown design %q", d)
		}
	}
	for _, s := range pl.Sweeps {
		if len(s.Values) == 0 || len(s.Values) > 20 {
			return fmt.Errorf("sweep %s: 1..20 values", s.Name)
		}
		for _, x := range s.Values {
			if err := s.Apply(pl.Base, x).Validate(); err != nil {
				return fmt.Errorf("sweep %s = %g: %w", s.Name, x, err)
			}
		}
	}
	return nil
}

// Point is one (sweep, x) of a plan.
type Point struct {
	Sweep  string  `json:"sweep"`
	X      float64 `json:"x"`
	Params Params  `json:"params"`
}

// Points lists every point of every sweep, in order.
func (pl Plan) Points() []Point {
	var out []Point
	for _, s := range pl.Sweeps {
		for _, x := range s.Values {
			out = append(out, Point{Sweep: s.Name, X: x, Params: s.Apply(pl.Base, x)})
		}
	}
	return out
}

// UniqueParams returns the distinct points' parameters, in first-seen order.
func (pl Plan) UniqueParams() []Params {
	seen := map[string]bool{}
	var out []Params
	for _, pt := range pl.Points() {
		if k := pt.Params.Key(); !seen[k] {
			seen[k] = true
			out = append(out, pt.Params)
		}
	}
	return out
}

// ParseDesigns parses "overlay,server,flatdht".
func ParseDesigns(s string) ([]Design, error) {
	var out []Design
	for _, f := range strings.Split(s, ",") {
		d := Design(strings.TrimSpace(f))
		switch d {
		case Overlay, Server, FlatDHT:
			out = append(out, d)
		case "":
		default:
			return nil, fmt.Errorf("unknown design %q (want overlay, server, flatdht)", d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no designs")
	}
	return out, nil
}
