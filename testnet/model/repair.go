package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// The model with repair (the paper's announced future work, §5: "extending
// the models to include the repair process ... the DHT case is more
// complicated since it also relies on a periodic maintenance mechanism").
//
// The paper's DHT model keeps a failed node failed for MTTR and needs one
// of the same m replicas of every hop. A real DHT tracker repairs itself:
//
//   - placement: an announcement stores the object's record on the r
//     closest *live* nodes (supertracker: GetClosestPeers among the
//     supernodes; kad-dht: Provide to the k closest responding peers);
//   - refresh: every holder re-announces every Refresh, so records move to
//     live nodes; a record lives TTL after it was written;
//   - re-replication on membership change: a leaf whose primary supernode
//     dies re-announces through its new primary at once (FailoverAnnounce);
//   - persistence: a supernode keeps its records across a restart (its
//     leveldb provider store), while a kad-dht node with the in-memory store
//     comes back empty (Persistent);
//   - failover: a leaf attached to m supernodes moves to a live one when its
//     primary dies, so the attach hop fails only when no supernode is up.
//
// A lookup succeeds when its route works and some live node holds a valid
// record of the object. Nodes fail and recover independently (exponential
// up and down times, rates a = 1/MTTF, b = 1/MTTR). Given the instants at
// which the object's holders announced within the last TTL, the joint
// state of the first L nodes in the object's XOR order (each up or down,
// holding a valid record or not) is a finite Markov chain: placement sets
// the flags of the first r live nodes, and between instants every node
// evolves independently (a record survives a restart only if Persistent).
// EvaluateRepair computes that chain exactly and averages over the
// holders' refresh phases (and failover re-announces) by Monte Carlo with
// a fixed seed, and over the lookup's time in the window.

// RepairParams are the inputs of the model with repair. Times share one
// unit (seconds in the CLI).
type RepairParams struct {
	// Nodes: DHT nodes that can hold records (overlay: supernodes S; flat
	// DHT: every node N). Mortal of them fail and recover (0: all); the
	// others never fail (the flat DHT's peers in the sweeps).
	Nodes  int `json:"nodes"`
	Mortal int `json:"mortal"`
	// Replicas r: a record goes to the r closest live nodes.
	Replicas int     `json:"replicas"`
	MTTF     float64 `json:"mttf"`
	MTTR     float64 `json:"mttr"`
	// Refresh: every holder re-announces this often; TTL: record lifetime.
	Refresh float64 `json:"refresh"`
	TTL     float64 `json:"ttl"`
	// Holders: distribution of the number of live holders of a looked-up
	// object (Holders[i] = weight of i+1 holders); nil: one holder.
	Holders []float64 `json:"holders,omitempty"`
	// Persistent: records survive a restart.
	Persistent bool `json:"persistent"`
	// FailoverAnnounce: a holder re-announces when its primary supernode
	// dies (the overlay's leaves; rate 1/MTTF).
	FailoverAnnounce bool `json:"failover_announce"`
	// MembershipRepair > 0: when a node holding the record dies, a live
	// holder copies it to the next closest live nodes this long after
	// (the record path v2's repair on membership change): a placement that
	// happens only if some live node still holds the record. Approximated
	// by repair instants at the rate replicas fail (r/MTTF). 0: none.
	MembershipRepair float64 `json:"membership_repair,omitempty"`
	// Attach: the route. >0: the issuer is a leaf attached to supernodes
	// and fails over at once to any live one (the attach hop fails only
	// when every mortal node is down); 0: the issuer is a DHT node itself.
	Attach int `json:"attach"`
	// Window > 0: every node is up at time 0 and lookups are uniform over
	// [0, Window] (a testnet run after its warm-up); 0: stationary.
	Window float64 `json:"window"`
	// Samples for the Monte Carlo over refresh phases (0: 64).
	Samples int `json:"samples,omitempty"`
	// Chain: how many nodes of an object's order are tracked (0: all, up
	// to 8). Placement reaches past them only when at least Chain−r+1 of
	// them are down at once; planning uses r+3.
	Chain int `json:"chain,omitempty"`
}

// RepairResult is the model's prediction.
type RepairResult struct {
	Inputs RepairParams `json:"inputs"`
	// Reliability = Route · Record: the chance a lookup succeeds.
	Reliability float64 `json:"reliability"`
	// Record: some live node holds a valid record; Route: the issuer
	// reaches a live node.
	Record float64 `json:"record"`
	Route  float64 `json:"route"`
	// PUp: stationary availability; MeanUp: the mean over the window
	// (PUp when stationary).
	PUp    float64 `json:"p_up"`
	MeanUp float64 `json:"mean_up"`
	// NoRepair: the paper's equation (2) with m = r, k = 1 and the same
	// mean availability (one DHT hop, no repair), for comparison.
	NoRepair float64 `json:"no_repair"`
	// ByUp[c]: success given that c nodes are up at the lookup (every node
	// mortal and tracked; nil otherwise): how the model is evaluated on a
	// run's realized churn.
	ByUp []float64 `json:"by_up,omitempty"`
}

// maxRepairChain bounds the nodes tracked exactly (4^L states).
const maxRepairChain = 8

// Validate checks every field.
func (p RepairParams) Validate() error {
	fin := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case p.Nodes < 1 || p.Nodes > 1<<20:
		return paramErr("Nodes", p.Nodes, "must be in [1, 2^20]")
	case p.Mortal < 0 || p.Mortal > p.Nodes:
		return paramErr("Mortal", p.Mortal, "must be in [0, Nodes]")
	case p.Replicas < 1 || p.Replicas > p.Nodes || p.Replicas > maxRepairChain:
		return paramErr("Replicas", p.Replicas, fmt.Sprintf("must be in [1, min(Nodes, %d)]", maxRepairChain))
	case !fin(p.MTTF) || p.MTTF <= 0:
		return paramErr("MTTF", p.MTTF, "must be finite and > 0")
	case !fin(p.MTTR) || p.MTTR < 0:
		return paramErr("MTTR", p.MTTR, "must be finite and ≥ 0")
	case !fin(p.Refresh) || p.Refresh <= 0:
		return paramErr("Refresh", p.Refresh, "must be finite and > 0")
	case !fin(p.TTL) || p.TTL < p.Refresh:
		return paramErr("TTL", p.TTL, "must be finite and ≥ Refresh")
	case p.TTL/p.Refresh > 64:
		return paramErr("TTL", p.TTL, "must be ≤ 64·Refresh")
	case p.Attach < 0:
		return paramErr("Attach", p.Attach, "must be ≥ 0")
	case !fin(p.MembershipRepair) || p.MembershipRepair < 0:
		return paramErr("MembershipRepair", p.MembershipRepair, "must be finite and ≥ 0")
	case !fin(p.Window) || p.Window < 0:
		return paramErr("Window", p.Window, "must be finite and ≥ 0")
	case p.Samples < 0 || p.Samples > 100000:
		return paramErr("Samples", p.Samples, "must be in [0, 100000]")
	case p.Chain < 0 || (p.Chain > 0 && p.Chain < p.Replicas):
		return paramErr("Chain", p.Chain, "must be 0 or ≥ Replicas")
	case len(p.Holders) > 64:
		return paramErr("Holders", len(p.Holders), "at most 64 entries")
	}
	var sum float64
	for _, w := range p.Holders {
		if !fin(w) || w < 0 {
			return paramErr("Holders", w, "weights must be finite and ≥ 0")
		}
		sum += w
	}
	if len(p.Holders) > 0 && sum <= 0 {
		return paramErr("Holders", sum, "weights must not all be 0")
	}
	return nil
}

// EvaluateRepair computes the model with repair.
func EvaluateRepair(p RepairParams) (RepairResult, error) {
	if err := p.Validate(); err != nil {
		return RepairResult{}, err
	}
	mortal := p.Mortal
	if mortal == 0 {
		mortal = p.Nodes
	}
	a, b := 1/p.MTTF, math.Inf(1)
	if p.MTTR > 0 {
		b = 1 / p.MTTR
	}
	pup := b / (a + b)
	if math.IsInf(b, 1) {
		pup = 1
	}
	res := RepairResult{Inputs: p, PUp: pup}
	samples := p.Samples
	if samples == 0 {
		samples = 64
	}
	holders := p.Holders
	if len(holders) == 0 {
		holders = []float64{1}
	}
	var hsum float64
	for _, w := range holders {
		hsum += w
	}
	// Lookup times: stationary (one point, t = ∞) or a grid over the window.
	times := []float64{math.Inf(1)}
	if p.Window > 0 {
		const grid = 12
		times = times[:0]
		for i := range grid {
			times = append(times, (float64(i)+0.5)/grid*p.Window)
		}
	}
	upAt := func(t float64) float64 { // P(a mortal node is up at t)
		if math.IsInf(t, 1) || math.IsInf(b, 1) {
			return pup
		}
		return pup + (1-pup)*math.Exp(-(a+b)*t)
	}
	r := rand.New(rand.NewPCG(0x7e9a17, uint64(p.Nodes)<<16|uint64(p.Replicas)))
	var rec, route, meanUp float64
	// Success by the number of nodes up at the lookup: only when every node
	// is mortal and tracked (the chain covers them all).
	var counts *upCounts
	if mortal == p.Nodes && p.Nodes <= maxRepairChain && (p.Chain == 0 || p.Chain >= p.Nodes) {
		counts = &upCounts{all: make([]float64, p.Nodes+1), held: make([]float64, p.Nodes+1)}
	}
	for _, t := range times {
		u := upAt(t)
		meanUp += u
		route += 1 - math.Pow(1-u, float64(mortal))
		var ok float64
		for range samples {
			order := nodeOrder(r, p.Nodes, mortal, p.Chain)
			ok += 1 - recordFail(p, order, a, b, t, drawHolders(r, holders, hsum), r, counts)
		}
		rec += ok / float64(samples)
	}
	n := float64(len(times))
	res.Record, res.MeanUp = rec/n, meanUp/n
	res.Route = 1
	if p.Attach > 0 {
		res.Route = route / n
	}
	res.Reliability = res.Record * res.Route
	if counts != nil {
		res.ByUp = make([]float64, len(counts.all))
		for c := range counts.all {
			if counts.all[c] > 0 {
				res.ByUp[c] = counts.held[c] / counts.all[c]
			}
			if p.Attach > 0 && c == 0 {
				res.ByUp[c] = 0 // no supernode to attach to
			}
		}
	}
	// Eq. (2) with one hop, m = r replicas, the same mean availability.
	res.NoRepair = 1 - math.Pow(1-res.MeanUp, float64(p.Replicas))
	if p.Attach > 0 {
		res.NoRepair *= 1 - math.Pow(1-res.MeanUp, float64(min(p.Attach, mortal)))
	}
	return res, nil
}

// drawHolders draws a holder count from the weights (index i: i+1).
func drawHolders(r *rand.Rand, w []float64, sum float64) int {
	x := r.Float64() * sum
	for i, wi := range w {
		if x < wi {
			return i + 1
		}
		x -= wi
	}
	return len(w)
}

// nodeOrder returns, for the first nodes in an object's XOR order, whether
// each is mortal: a random order of Mortal mortal and Nodes−Mortal
// immortal nodes (all mortal: no randomness). It stops after the first
// immortal node, which is always live: placement never needs a node past
// it to give the record a live holder, and it keeps the record for good.
// At most maxRepairChain nodes are tracked: placement past them needs the
// first maxRepairChain−r+1 nodes down at once.
func nodeOrder(r *rand.Rand, nodes, mortal, chain int) []bool {
	l := min(nodes, maxRepairChain)
	if chain > 0 {
		l = min(l, chain)
	}
	out := make([]bool, 0, l)
	left, m := nodes, mortal
	for range l { // sequential draw without replacement
		isMortal := r.IntN(left) < m
		if isMortal {
			m--
		}
		left--
		out = append(out, isMortal)
		if !isMortal {
			break
		}
	}
	return out
}

// recordFail is P(no live node holds a valid record at t) for one draw of
// the holders' announce instants.
func recordFail(p RepairParams, mortal []bool, a, b, t float64, holders int, r *rand.Rand, byUp *upCounts) float64 {
	L := len(mortal)
	stationary := math.IsInf(t, 1)
	horizon := p.TTL
	// Announce instants in (t−TTL, t], as offsets before t; cond marks the
	// repair instants (placement only where a live node holds the record).
	var back []float64
	cond := map[float64]bool{}
	for range holders {
		phase := r.Float64() * p.Refresh
		for x := phase; x < horizon; x += p.Refresh {
			back = append(back, x)
		}
		if p.FailoverAnnounce {
			for x := r.ExpFloat64() / a; x < horizon; x += r.ExpFloat64() / a {
				back = append(back, x)
			}
		}
	}
	if p.MembershipRepair > 0 {
		rate := float64(p.Replicas) * a
		for x := r.ExpFloat64() / rate; x < horizon; x += r.ExpFloat64() / rate {
			if y := x - p.MembershipRepair; y >= 0 { // the failure at t−x, repaired at t−x+delay
				back = append(back, y)
				cond[y] = true
			}
		}
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(back))) // oldest first
	// The chain starts at t−TTL (stationary or transient availability,
	// no valid records), or at time 0 with every node up and the records
	// of the warm-up on the first r nodes when t < TTL.
	start := t - horizon
	pup := 1.0
	if !math.IsInf(b, 1) {
		pup = b / (a + b)
	}
	dist := make([]float64, 1<<(2*L))
	flagsAtStart := 0
	if !stationary && start < 0 {
		start = 0
		for i := range min(p.Replicas, L) {
			flagsAtStart |= 1 << (2*i + 1)
		}
		all := flagsAtStart
		for i := range L {
			all |= 1 << (2 * i)
		}
		dist[all] = 1
	} else {
		u := pup
		if !stationary && !math.IsInf(b, 1) {
			u = pup + (1-pup)*math.Exp(-(a+b)*start)
		}
		// Independent up bits, no flags.
		for s := range dist {
			if s&flagMask(L) != 0 {
				continue
			}
			pr := 1.0
			for i := range L {
				up := s>>(2*i)&1 == 1
				ui := u
				if !mortal[i] {
					ui = 1
				}
				if up {
					pr *= ui
				} else {
					pr *= 1 - ui
				}
			}
			dist[s] = pr
		}
	}
	now := start
	isCond := make([]bool, len(back))
	for i, x := range back {
		isCond[i] = cond[x]
	}
	if stationary {
		now = 0
		t = horizon
		for i := range back {
			back[i] = horizon - back[i]
		}
	} else {
		for i := range back {
			back[i] = t - back[i]
		}
	}
	next := make([]float64, len(dist))
	for i, at := range append(back, t) {
		if at < now {
			continue // before the window: the warm-up placement covers it
		}
		if dt := at - now; dt > 0 {
			evolve(dist, next, mortal, a, b, dt, p.Persistent)
			now = at
		}
		if at < t {
			place(dist, next, L, p.Replicas, isCond[i])
		}
	}
	var fail float64
	for s, pr := range dist {
		if pr == 0 {
			continue
		}
		held, up := false, 0
		for i := range L {
			if s>>(2*i)&1 == 1 && mortal[i] {
				up++
			}
			if s>>(2*i)&3 == 3 { // up and holding a record
				held = true
			}
		}
		if !held {
			fail += pr
		}
		if byUp != nil {
			byUp.all[up] += pr
			if held {
				byUp.held[up] += pr
			}
		}
	}
	return math.Min(1, math.Max(0, fail))
}

// upCounts accumulates, by the number of mortal nodes up at the lookup,
// P(c up) and P(record held ∧ c up).
type upCounts struct{ all, held []float64 }

// liveHolder: some node is up and holds the record in state s.
func liveHolder(s, L int) bool {
	for i := range L {
		if s>>(2*i)&3 == 3 {
			return true
		}
	}
	return false
}

func flagMask(L int) int {
	m := 0
	for i := range L {
		m |= 1 << (2*i + 1)
	}
	return m
}

// place writes the record on the first r live nodes of every state (only
// where a live node holds it, if conditional: a repair copies it from one).
func place(dist, next []float64, L, r int, conditional bool) {
	clear(next)
	for s, pr := range dist {
		if pr == 0 {
			continue
		}
		if conditional && !liveHolder(s, L) {
			next[s] += pr
			continue
		}
		t, c := s, 0
		for i := 0; i < L && c < r; i++ {
			if s>>(2*i)&1 == 1 {
				t |= 1 << (2*i + 1)
				c++
			}
		}
		next[t] += pr
	}
	copy(dist, next)
}

// evolve lets every mortal node evolve for dt, one node at a time (they
// are independent). A record survives a down period only if persistent;
// without persistence a node that went down at any time in dt lost it.
func evolve(dist, next []float64, mortal []bool, a, b, dt float64, persistent bool) {
	s := a + b
	pup := 1.0
	if !math.IsInf(b, 1) {
		pup = b / s
	}
	e := math.Exp(-s * dt)
	if math.IsInf(b, 1) {
		e = 0
	}
	uu := pup + (1-pup)*e // up → up at dt
	du := pup - pup*e     // down → up at dt
	stay := math.Exp(-a * dt)
	for i, m := range mortal {
		if !m {
			continue
		}
		clear(next)
		up, fl := 1<<(2*i), 1<<(2*i+1)
		for st, pr := range dist {
			if pr == 0 {
				continue
			}
			base := st &^ (up | fl)
			f := st & fl
			if st&up != 0 {
				if persistent {
					next[base|up|f] += pr * uu
					next[base|f] += pr * (1 - uu)
				} else {
					next[base|up|f] += pr * stay
					next[base|up] += pr * (uu - stay)
					next[base] += pr * (1 - uu)
				}
			} else {
				if !persistent {
					f = 0
				}
				next[base|up|f] += pr * du
				next[base|f] += pr * (1 - du)
			}
		}
		copy(dist, next)
	}
}

// String summarises a result.
func (r RepairResult) String() string {
	return fmt.Sprintf("reliability %.6f (record %.6f × route %.6f); no repair %.6f; mean availability %.4f",
		r.Reliability, r.Record, r.Route, r.NoRepair, r.MeanUp)
}

// MeanUp is the mean availability of a node over [0, window] when it is
// up at 0 (window 0: stationary): P + (1−P)(1−e^{−(a+b)w})/((a+b)w).
func MeanUp(mttf, mttr, window float64) float64 {
	if mttr <= 0 {
		return 1
	}
	a, b := 1/mttf, 1/mttr
	p := b / (a + b)
	if window <= 0 {
		return p
	}
	x := (a + b) * window
	return p + (1-p)*(-math.Expm1(-x))/x
}

// FitMTTF returns the MTTF that gives a node with the given MTTR a mean
// availability of target over the window (as MeanUp): how a run's
// realized churn is fed back into the model. It returns an error wrapping
// ErrInvalidParam when target is not in (MeanUp at a tiny MTTF, 1).
func FitMTTF(mttr, window, target float64) (float64, error) {
	if !(target > 0 && target < 1) || !(mttr > 0) || math.IsInf(mttr, 0) || !(window >= 0) {
		return 0, paramErr("Target", target, "availability must be in (0, 1) with MTTR > 0")
	}
	lo, hi := mttr*1e-6, mttr*1e9
	if MeanUp(lo, mttr, window) >= target || MeanUp(hi, mttr, window) <= target {
		return 0, paramErr("Target", target, "availability out of reach")
	}
	for range 200 { // geometric bisection
		mid := math.Sqrt(lo * hi)
		if MeanUp(mid, mttr, window) < target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return math.Sqrt(lo * hi), nil
}
