package model

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Capacity planning: "how many supernodes, which r, for N peers, K objects
// and target success P" (`supertracker-lab model --plan`). The supernode count
// is what the election settles at (its fill threshold, leaves counting
// their backups) or what the load needs, whichever is larger; r is the
// smallest replication for which the model with repair reaches P with the
// supernodes' churn; costs per supernode and per leaf follow from message
// sizes and rates (defaults measured by `make scale`), and the membership
// traffic from OneHop's analysis (Gupta, Liskov, Rodrigues: a system of n
// nodes with mean session S_avg sees r = 2n/S_avg membership events per
// second, every one of which a node with a complete routing table must
// learn; e.g. 10^5 Gnutella peers with 2.9 h sessions: 19 events/s).

// CapacityParams are the planning inputs. Times in seconds, sizes in bytes.
type CapacityParams struct {
	Peers   int     `json:"peers"`   // N, online at once
	Objects int     `json:"objects"` // K
	Target  float64 `json:"target"`  // P, lookup success
	// Workload: objects each peer holds, lookups per peer per second.
	HoldPerPeer    float64 `json:"hold_per_peer"`
	LookupsPerPeer float64 `json:"lookups_per_peer_per_s"`
	// The election and leaf defaults: a supernode takes MaxLeaves sessions,
	// the election promotes at PromoteFill, a leaf holds 1+Backups.
	MaxLeaves   int     `json:"max_leaves"`
	PromoteFill float64 `json:"promote_fill"`
	Backups     int     `json:"backups"`
	// Mu: requests one supernode serves per second; RhoMax: the highest
	// utilisation planned for.
	Mu     float64 `json:"mu"`
	RhoMax float64 `json:"rho_max"`
	// Peer sessions: Weibull(SessionShape, SessionScale); supernodes are
	// peers up for at least MinUptime, so their mean remaining session is
	// SupernodeMTTF (0: derived from the Weibull). A departed supernode is
	// replaced, empty, after ReplaceTime (the election's demand window).
	SessionShape  float64 `json:"session_shape"`
	SessionScale  float64 `json:"session_scale"`
	MinUptime     float64 `json:"min_uptime"`
	SupernodeMTTF float64 `json:"supernode_mttf,omitempty"`
	ReplaceTime   float64 `json:"replace_time"`
	// Records: refreshed every Refresh, valid TTL.
	Refresh float64 `json:"refresh"`
	TTL     float64 `json:"ttl"`
	// Message costs (bytes in + out): a heartbeat round trip, one record's
	// share of a replicated announcement at one replica, a lookup at the
	// primary and its DHT query, one membership event at one supernode.
	HeartbeatInterval float64 `json:"heartbeat_interval"`
	HeartbeatBytes    float64 `json:"heartbeat_bytes"`
	RecordBytes       float64 `json:"record_bytes"`
	LookupBytes       float64 `json:"lookup_bytes"`
	EventBytes        float64 `json:"event_bytes"`
	// Memory: per record (provider store), per leaf session.
	RecordMemBytes  float64 `json:"record_mem_bytes"`
	SessionMemBytes float64 `json:"session_mem_bytes"`
}

// DefaultCapacityParams: election and leaf defaults, the BitTorrent churn
// of Stutzbach & Rejaie (Weibull k = 0.38, λ = 42.4 min), and costs
// measured by `make scale` (see docs/scale.md).
func DefaultCapacityParams() CapacityParams {
	return CapacityParams{
		Target: 0.999, HoldPerPeer: 4, LookupsPerPeer: 1.0 / 60,
		MaxLeaves: 50, PromoteFill: 0.9, Backups: 2,
		Mu: 2000, RhoMax: 0.5,
		SessionShape: 0.38, SessionScale: 42.4 * 60, MinUptime: 2 * 3600, ReplaceTime: 600,
		Refresh: 15 * 60, TTL: 45 * 60,
		HeartbeatInterval: 1, HeartbeatBytes: 90, RecordBytes: 400, LookupBytes: 2500, EventBytes: 100,
		RecordMemBytes: 345, SessionMemBytes: 4096,
	}
}

// CapacityPlan is the answer.
type CapacityPlan struct {
	Inputs CapacityParams `json:"inputs"`
	// Supernodes: max(ByFill, ByLoad, Replicas).
	Supernodes int `json:"supernodes"`
	ByFill     int `json:"supernodes_by_fill"`
	ByLoad     int `json:"supernodes_by_load"`
	// Replicas r and the model with repair's success with it.
	Replicas    int     `json:"replicas"`
	Reliability float64 `json:"reliability"`
	Reachable   bool    `json:"reachable"`
	// Per supernode.
	LeavesPerSupernode   float64 `json:"leaves_per_supernode"` // primaries
	SessionsPerSupernode float64 `json:"sessions_per_supernode"`
	RecordsPerSupernode  float64 `json:"records_per_supernode"`
	Rho                  float64 `json:"rho"`
	MemPerSupernode      float64 `json:"mem_bytes_per_supernode"`
	// Bandwidth (bytes/s, in + out) by cause, per supernode and per leaf.
	SupernodeBps map[string]float64 `json:"supernode_bytes_per_s"`
	LeafBps      map[string]float64 `json:"leaf_bytes_per_s"`
	// Supernode churn: mean remaining session of an elected peer, and the
	// membership events per second among supernodes (OneHop: 2S/MTTF).
	SupernodeMTTF float64 `json:"supernode_mttf"`
	EventsPerS    float64 `json:"membership_events_per_s"`
	// HoldersMean: mean live holders of an object.
	HoldersMean float64 `json:"holders_mean"`
}

// ElectedResidual is the mean remaining session of a peer found online
// with uptime ≥ u when sessions are Weibull(k, λ) in the stationary
// regime: E[A−u | A ≥ u] over the equilibrium age density S(a)/E[L], i.e.
// ∫_u^∞ (x−u) S(x) dx / ∫_u^∞ S(x) dx, with ∫_u^∞ x^j S(x) dx =
// λ^(j+1)/k · Γ((j+1)/k) · Q((j+1)/k, (u/λ)^k).
func ElectedResidual(k, lambda, u float64) float64 {
	y := math.Pow(math.Max(u, 0)/lambda, k)
	i0 := lambda / k * math.Gamma(1/k) * mathext.GammaIncRegComp(1/k, y)
	i1 := lambda * lambda / k * math.Gamma(2/k) * mathext.GammaIncRegComp(2/k, y)
	if i0 <= 0 {
		return 0
	}
	return i1/i0 - u
}

// Validate checks the fields.
func (p CapacityParams) Validate() error {
	pos := map[string]float64{"HoldPerPeer": p.HoldPerPeer, "PromoteFill": p.PromoteFill, "Mu": p.Mu,
		"RhoMax": p.RhoMax, "SessionShape": p.SessionShape, "SessionScale": p.SessionScale, "Refresh": p.Refresh,
		"TTL": p.TTL, "HeartbeatInterval": p.HeartbeatInterval}
	for f, v := range pos {
		if err := checkPositive(f, v); err != nil {
			return err
		}
	}
	nonneg := map[string]float64{"LookupsPerPeer": p.LookupsPerPeer, "MinUptime": p.MinUptime, "ReplaceTime": p.ReplaceTime,
		"SupernodeMTTF": p.SupernodeMTTF, "HeartbeatBytes": p.HeartbeatBytes, "RecordBytes": p.RecordBytes,
		"LookupBytes": p.LookupBytes, "EventBytes": p.EventBytes, "RecordMemBytes": p.RecordMemBytes, "SessionMemBytes": p.SessionMemBytes}
	for f, v := range nonneg {
		if err := checkNonNegative(f, v); err != nil {
			return err
		}
	}
	switch {
	case p.Peers < 2 || p.Peers > 1e9:
		return paramErr("Peers", p.Peers, "must be in [2, 10^9]")
	case p.Objects < 1 || p.Objects > 1e12:
		return paramErr("Objects", p.Objects, "must be in [1, 10^12]")
	case !(p.Target > 0 && p.Target < 1):
		return paramErr("CapacityTarget", p.Target, "must be in (0, 1)")
	case p.MaxLeaves < 1:
		return paramErr("MaxLeaves", p.MaxLeaves, "must be ≥ 1")
	case p.Backups < 0:
		return paramErr("Backups", p.Backups, "must be ≥ 0")
	case p.PromoteFill > 1 || p.RhoMax > 1:
		return paramErr("PromoteFill/RhoMax", math.Max(p.PromoteFill, p.RhoMax), "must be ≤ 1")
	case p.TTL < p.Refresh || p.TTL/p.Refresh > 64:
		return paramErr("TTL", p.TTL, "must be in [Refresh, 64·Refresh]")
	}
	return nil
}

// maxPlanReplicas bounds the replication searched (the model with repair
// tracks at most maxRepairChain nodes of an object's order; mainline
// BitTorrent's DHT uses 8).
const maxPlanReplicas = maxRepairChain

// PlanCapacity answers the planning question.
func PlanCapacity(p CapacityParams) (CapacityPlan, error) {
	if err := p.Validate(); err != nil {
		return CapacityPlan{}, err
	}
	pl := CapacityPlan{Inputs: p, SupernodeBps: map[string]float64{}, LeafBps: map[string]float64{}}
	n := float64(p.Peers)
	m := float64(1 + p.Backups)
	// The election's fill: (1+m)(N−S) ≤ PromoteFill·MaxLeaves·S.
	per := p.PromoteFill * float64(p.MaxLeaves) / m
	pl.ByFill = max(1, int(math.Ceil(n/(1+per)-1e-9)))
	// Load: every lookup costs the primary one request and a replica one
	// DHT request; every refresh one announce at the primary and one
	// replica write per record per replica (r ≤ 8 assumed for sizing);
	// heartbeats one request per session per interval.
	lookups := n * p.LookupsPerPeer
	pl.HoldersMean = n * p.HoldPerPeer / float64(p.Objects)
	pl.SupernodeMTTF = p.SupernodeMTTF
	if pl.SupernodeMTTF == 0 {
		pl.SupernodeMTTF = ElectedResidual(p.SessionShape, p.SessionScale, p.MinUptime)
	}
	load := func(s int, r int) float64 {
		leaves := n - float64(s)
		reqs := 2*lookups + leaves/p.Refresh + n*p.HoldPerPeer*float64(r)/p.Refresh + leaves*m/p.HeartbeatInterval
		return reqs / float64(s)
	}
	s := pl.ByFill
	for {
		r, res, reached, err := planReplicas(p, pl, s)
		if err != nil {
			return pl, err
		}
		pl.Replicas, pl.Reliability, pl.Reachable = r, res.Reliability, reached
		// Load-driven supernodes for this r.
		pl.ByLoad = max(1, int(math.Ceil(float64(s)*load(s, r)/(p.RhoMax*p.Mu))))
		next := max(pl.ByFill, pl.ByLoad, r)
		if next <= s || s >= p.Peers {
			break
		}
		s = min(next, p.Peers)
	}
	pl.Supernodes = s
	S := float64(s)
	leaves := n - S
	pl.LeavesPerSupernode = leaves / S
	pl.SessionsPerSupernode = leaves * m / S
	pl.RecordsPerSupernode = n * p.HoldPerPeer * float64(pl.Replicas) / S
	pl.Rho = load(s, pl.Replicas) / p.Mu
	pl.MemPerSupernode = pl.RecordsPerSupernode*p.RecordMemBytes + pl.SessionsPerSupernode*p.SessionMemBytes
	pl.EventsPerS = 2 * S / pl.SupernodeMTTF
	// Per supernode.
	pl.SupernodeBps["heartbeats"] = pl.SessionsPerSupernode * p.HeartbeatBytes / p.HeartbeatInterval
	pl.SupernodeBps["record refresh"] = pl.RecordsPerSupernode * p.RecordBytes / p.Refresh
	pl.SupernodeBps["lookups"] = lookups * p.LookupBytes / S
	pl.SupernodeBps["membership (OneHop)"] = pl.EventsPerS * p.EventBytes
	// Per leaf: its sessions' heartbeats, its records' refresh (sent once
	// to the primary), its lookups.
	pl.LeafBps["heartbeats"] = m * p.HeartbeatBytes / p.HeartbeatInterval
	pl.LeafBps["record refresh"] = p.HoldPerPeer * p.RecordBytes / p.Refresh
	pl.LeafBps["lookups"] = p.LookupsPerPeer * p.LookupBytes
	return pl, nil
}

// planReplicas is the smallest r ≤ min(maxPlanReplicas, S) whose success
// reaches the target (binary search: success grows with r), or the largest
// with reached false.
func planReplicas(p CapacityParams, pl CapacityPlan, s int) (int, RepairResult, bool, error) {
	eval := func(r int) (RepairResult, error) {
		return EvaluateRepair(RepairParams{Nodes: s, Replicas: r, MTTF: pl.SupernodeMTTF, MTTR: p.ReplaceTime,
			Refresh: p.Refresh, TTL: p.TTL, Holders: holderWeights(pl.HoldersMean), FailoverAnnounce: true,
			Attach: 1 + p.Backups, Samples: 96, Chain: min(r+3, maxRepairChain)})
	}
	hi := min(maxPlanReplicas, s)
	top, err := eval(hi)
	if err != nil || top.Reliability < p.Target {
		return hi, top, false, err
	}
	lo, best := 1, top
	for lo < hi {
		mid := (lo + hi) / 2
		res, err := eval(mid)
		if err != nil {
			return 0, res, false, err
		}
		if res.Reliability >= p.Target {
			hi, best = mid, res
		} else {
			lo = mid + 1
		}
	}
	return hi, best, true, nil
}

// holderWeights is Poisson(mean) conditioned on ≥ 1, truncated at 16.
func holderWeights(mean float64) []float64 {
	mean = math.Max(mean, 1e-9)
	w := make([]float64, 16)
	for i := range w {
		k := float64(i + 1)
		lg, _ := math.Lgamma(k + 1)
		w[i] = math.Exp(-mean + k*math.Log(mean) - lg)
	}
	return w
}

// Total sums a bandwidth breakdown.
func Total(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// String is a one-line summary.
func (pl CapacityPlan) String() string {
	return fmt.Sprintf("%d supernodes (fill %d, load %d), r = %d (success %.6f), %.0f records and %.1f KB/s per supernode",
		pl.Supernodes, pl.ByFill, pl.ByLoad, pl.Replicas, pl.Reliability, pl.RecordsPerSupernode, Total(pl.SupernodeBps)/1000)
}
