package scale

import (
	"math"

	"github.com/supertracker/supertracker/testnet/model"
)

// Past one machine, on paper: the measured per-operation and per-session
// costs of the run feed model.PlanCapacity (the election's supernode
// count, the model with repair's r, OneHop's membership traffic) at 10^5,
// 10^6 and 10^7 peers.

// Calibration is what the run measured that the extrapolation uses.
type Calibration struct {
	HeartbeatBytes float64 `json:"heartbeat_bytes"` // per heartbeat round trip (leaf side, one session)
	RecordBytes    float64 `json:"record_bytes"`    // per record per replica in a refresh round, at a supernode
	LookupBytes    float64 `json:"lookup_bytes"`    // per lookup, all nodes
	Mu             float64 `json:"mu"`              // requests/s one core serves (1 / CPU per operation)
	Source         string  `json:"source"`
}

// ExtrapRow is one population of the extrapolation table.
type ExtrapRow struct {
	Peers   int                `json:"peers"`
	Plan    model.CapacityPlan `json:"plan"`
	FlatBps float64            `json:"flat_kad_bytes_per_s_per_node"`
}

// ExtrapPeers are the populations of the table.
var ExtrapPeers = []int{100000, 1000000, 10000000}

// calibrate derives the costs from the overlay's run (nil if it has no
// upkeep measurement).
func calibrate(rep *Report) *Calibration {
	ov := rep.Designs[DesignOverlay]
	if ov == nil {
		return nil
	}
	c := &Calibration{Source: "this run's overlay: heartbeat, record refresh and lookup bytes; μ: the real-process sweep (not the mocknet CPU)"}
	lc := overlayLeafSessions()
	if leaf, ok := ov.Maintenance["leaf"]; ok && leaf.Nodes > 0 {
		// A leaf's continuous upkeep is its sessions' heartbeats (every
		// second each) plus its share of discovery: charge it all to them.
		c.HeartbeatBytes = leaf.ByClassBPS[classNames[classLeaf]] / lc
	}
	S := float64(rep.Summary.Supernodes)
	leaves := float64(rep.Config.N) - S
	records := leaves * float64(rep.Config.HoldPerPeer) * float64(overlayReplicas()) / math.Max(S, 1)
	for _, u := range ov.Upkeep {
		if u.Period == overlayRefreshPeriod() && records > 0 {
			c.RecordBytes = u.BytesPer["supernode"] / records
		}
	}
	// μ: not the mocknet's CPU per operation, which is every node's work
	// for it plus the simulator's own (pipes, timers, goroutines in one
	// process), but what a supernode process serves: the real-process
	// sweep measured μ̂ ≈ 2,400 requests/s (docs/results.md), DESIGN §5
	// ≳ 2,000 (a kad lookup ~3 ms of CPU for 6–9 RPCs).
	c.Mu = model.DefaultCapacityParams().Mu
	if mt, ok := ov.MeasureTraffic["supernode"]; ok && ov.Lookups > 0 {
		// What the measure window's traffic exceeds the quiet window's by,
		// over all nodes, per operation.
		quietSN, quietLeaf := ov.Maintenance["supernode"].BytesPerS, ov.Maintenance["leaf"].BytesPerS
		extra := float64(mt.Nodes)*(mt.BytesPerS-quietSN) + float64(ov.MeasureTraffic["leaf"].Nodes)*(ov.MeasureTraffic["leaf"].BytesPerS-quietLeaf)
		ops := float64(ov.Lookups + ov.Publishes)
		c.LookupBytes = math.Max(0, extra*rep.Config.Measure.Seconds()/ops)
	}
	return c
}

// Extrapolate builds the table from the run's calibration.
func Extrapolate(rep *Report) []ExtrapRow {
	cal := calibrate(rep)
	if cal == nil {
		return nil
	}
	var flatPerNode float64
	if fl := rep.Designs[DesignFlat]; fl != nil {
		flatPerNode = fl.MaintPerS["dht"]
	}
	var rows []ExtrapRow
	for _, n := range ExtrapPeers {
		p := model.DefaultCapacityParams()
		p.Peers, p.Objects = n, n*rep.Config.Objects/rep.Config.N
		p.HoldPerPeer = float64(rep.Config.HoldPerPeer)
		if rep.Config.LookupRate > 0 {
			p.LookupsPerPeer = rep.Config.LookupRate / float64(rep.Config.N)
		}
		if cal.HeartbeatBytes > 0 {
			p.HeartbeatBytes = cal.HeartbeatBytes
		}
		if cal.RecordBytes > 0 {
			p.RecordBytes = cal.RecordBytes
		}
		if cal.LookupBytes > 0 {
			p.LookupBytes = cal.LookupBytes
		}
		if cal.Mu > 0 {
			p.Mu = cal.Mu
		}
		pl, err := model.PlanCapacity(p)
		if err != nil {
			continue
		}
		row := ExtrapRow{Peers: n, Plan: pl}
		if flatPerNode > 0 {
			// kad-dht's upkeep grows with its routing table, ~log2(N/k).
			row.FlatBps = flatPerNode * math.Log2(float64(n)/20) / math.Log2(float64(rep.Config.N)/20)
		}
		rows = append(rows, row)
	}
	return rows
}
