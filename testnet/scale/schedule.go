package scale

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"
)

// Config describes a scale run: the population, its churn, the workload
// and the phases. Both designs run the same Schedule built from it.
type Config struct {
	// N: peers online at any moment (departures are replaced at once).
	N    int    `json:"n"`
	Seed uint64 `json:"seed"`
	// Churn: the session-length fit; Speedup divides every session (1 =
	// the measured time scale).
	Churn   Weibull `json:"churn"`
	Speedup float64 `json:"churn_speedup"`
	// Supernodes S of the overlay; 0 derives it from the election's
	// defaults (SupernodeCount).
	Supernodes int `json:"supernodes"`
	// MinUptime: the election's uptime criterion; supernodes are the
	// oldest peers, all at least this old if enough are.
	MinUptime time.Duration `json:"min_uptime_ns"`
	// Objects K, each leaf holding HoldPerPeer of them, Zipf(ZipfS).
	Objects     int     `json:"objects"`
	HoldPerPeer int     `json:"hold_per_peer"`
	ZipfS       float64 `json:"zipf_s"`
	// Phases: Warmup (churn only), Measure (lookups, publishes, churn),
	// Quiet (churn only: the maintenance window).
	Warmup  time.Duration `json:"warmup_ns"`
	Measure time.Duration `json:"measure_ns"`
	Quiet   time.Duration `json:"quiet_ns"`
	// LookupRate λ (lookups/s over the network) and PublishRate (new
	// objects announced and then looked up until found, per second).
	LookupRate  float64 `json:"lookup_rate"`
	PublishRate float64 `json:"publish_rate"`
	// LookupTimeout bounds one lookup; Grace: a holder counts once it has
	// been online this long (its announcement has landed).
	LookupTimeout time.Duration `json:"lookup_timeout_ns"`
	Grace         time.Duration `json:"grace_ns"`
	// BootstrapSupernodes: how many supernodes a leaf knows when it starts
	// (it discovers more from them).
	BootstrapSupernodes int `json:"bootstrap_supernodes"`
}

// Validate reports the first unusable field.
func (c Config) Validate() error {
	switch {
	case c.N < 10 || c.N > 100000:
		return fmt.Errorf("scale: N %d outside [10, 100000]", c.N)
	case c.Churn.Shape <= 0 || c.Churn.ScaleMin <= 0:
		return errors.New("scale: churn profile missing")
	case !(c.Speedup >= 1 && c.Speedup <= 1e4):
		return fmt.Errorf("scale: churn speedup %v outside [1, 10000]", c.Speedup)
	case c.Supernodes < 0 || c.Supernodes >= c.N:
		return fmt.Errorf("scale: supernodes %d outside [0, N)", c.Supernodes)
	case c.Objects < 1 || c.HoldPerPeer < 1 || c.HoldPerPeer > c.Objects || c.HoldPerPeer > 256:
		return fmt.Errorf("scale: objects %d / hold per peer %d", c.Objects, c.HoldPerPeer)
	case !(c.ZipfS >= 0 && c.ZipfS <= 4):
		return fmt.Errorf("scale: zipf s %v outside [0, 4]", c.ZipfS)
	case c.Warmup < 0 || c.Measure <= 0 || c.Quiet < 0:
		return errors.New("scale: phases must be ≥ 0 (measure > 0)")
	case !(c.LookupRate > 0 && c.LookupRate <= 10000) || !(c.PublishRate >= 0 && c.PublishRate <= 1000):
		return fmt.Errorf("scale: rates %v/%v out of range", c.LookupRate, c.PublishRate)
	case c.LookupTimeout <= 0 || c.Grace < 0:
		return errors.New("scale: lookup timeout must be > 0, grace ≥ 0")
	case c.BootstrapSupernodes < 1:
		return errors.New("scale: leaves need ≥ 1 bootstrap supernode")
	}
	return nil
}

// Total is the schedule's length.
func (c Config) Total() time.Duration { return c.Warmup + c.Measure + c.Quiet }

// Event kinds.
const (
	EvDepart  = "depart"  // the peer in Slot leaves (its process dies)
	EvArrive  = "arrive"  // a new peer takes Slot and announces what it holds
	EvLookup  = "lookup"  // Slot looks Object up
	EvPublish = "publish" // Slot announces the new Object; Peer looks it up until found
)

// Event is one scheduled action, At after the schedule's time zero.
type Event struct {
	At     time.Duration `json:"at_ns"`
	Kind   string        `json:"kind"`
	Slot   int           `json:"slot"`
	Peer   int           `json:"peer,omitempty"`
	Object int           `json:"object"`
}

// Slot is one peer identity: who it is, when it is online, what it holds.
type Slot struct {
	ID        int           `json:"id"`
	Supernode bool          `json:"supernode,omitempty"`
	Age       time.Duration `json:"age_ns"`    // uptime at time zero (initial peers)
	Joined    time.Duration `json:"joined_ns"` // ≤ 0 for initial peers
	Leaves    time.Duration `json:"leaves_ns"` // past the end: stays
	Holds     []int         `json:"holds,omitempty"`
}

// Schedule is the seeded plan both designs carry out.
type Schedule struct {
	Cfg        Config  `json:"config"`
	Slots      []Slot  `json:"slots"` // by ID
	Initial    []int   `json:"initial"`
	Supernodes []int   `json:"supernodes"`
	Events     []Event `json:"events"`
	// Eligible: initial peers meeting MinUptime (the supernodes are the
	// oldest of them).
	Eligible int `json:"eligible"`
}

// zipf draws ranks 0..n-1 with P(i) ∝ 1/(i+1)^s.
type zipf struct{ cdf []float64 }

func newZipf(n int, s float64) zipf {
	cdf := make([]float64, n)
	var sum float64
	for i := range n {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return zipf{cdf}
}

func (z zipf) draw(r *rand.Rand) int {
	return min(sort.SearchFloat64s(z.cdf, r.Float64()), len(z.cdf)-1)
}

// holdings draws h distinct objects.
func (z zipf) holdings(r *rand.Rand, h int) []int {
	seen := make(map[int]bool, h)
	out := make([]int, 0, h)
	for tries := 0; len(out) < h && tries < 100*h; tries++ {
		o := z.draw(r)
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	for o := 0; len(out) < h; o++ { // tiny K: fill in order
		if !seen[o] {
			seen[o] = true
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out
}

type churnEv struct {
	at     time.Duration
	depart bool
	slot   int
}

type churnQ []churnEv

func (q churnQ) Len() int { return len(q) }
func (q churnQ) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].slot < q[j].slot
}
func (q churnQ) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *churnQ) Push(x any)   { *q = append(*q, x.(churnEv)) }
func (q *churnQ) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// liveSet is a set of slots with uniform draws.
type liveSet struct {
	list []int
	idx  map[int]int
}

func newLiveSet() *liveSet { return &liveSet{idx: map[int]int{}} }

func (s *liveSet) add(x int) {
	if _, ok := s.idx[x]; !ok {
		s.idx[x] = len(s.list)
		s.list = append(s.list, x)
	}
}

func (s *liveSet) remove(x int) {
	i, ok := s.idx[x]
	if !ok {
		return
	}
	last := s.list[len(s.list)-1]
	s.list[i], s.idx[last] = last, i
	s.list = s.list[:len(s.list)-1]
	delete(s.idx, x)
}

func (s *liveSet) draw(r *rand.Rand) int { return s.list[r.IntN(len(s.list))] }

// NewSchedule builds the seeded schedule of cfg.
func NewSchedule(cfg Config) (*Schedule, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Supernodes == 0 {
		cfg.Supernodes = SupernodeCount(cfg.N)
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x5ca1e))
	z := newZipf(cfg.Objects, cfg.ZipfS)
	sp := cfg.Speedup
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) / sp) }
	T := cfg.Total()
	never := T + time.Hour
	s := &Schedule{Cfg: cfg}
	q := &churnQ{}

	// Initial population in the stationary regime.
	for i := range cfg.N {
		age := cfg.Churn.Age(r)
		rest := scaled(cfg.Churn.Residual(age, r))
		sl := Slot{ID: i, Age: scaled(age), Joined: -scaled(age), Leaves: never}
		if rest < T {
			sl.Leaves = rest
			heap.Push(q, churnEv{at: rest, depart: true, slot: i})
		}
		s.Slots = append(s.Slots, sl)
		s.Initial = append(s.Initial, i)
	}
	// Supernodes: the oldest (the election ranks by uptime among the
	// eligible, and promotes the best first).
	byAge := slices.Clone(s.Initial)
	sort.SliceStable(byAge, func(a, b int) bool { return s.Slots[byAge[a]].Age > s.Slots[byAge[b]].Age })
	for _, id := range s.Initial {
		if s.Slots[id].Age >= scaled(cfg.MinUptime) {
			s.Eligible++
		}
	}
	for _, id := range byAge[:cfg.Supernodes] {
		s.Slots[id].Supernode = true
		s.Supernodes = append(s.Supernodes, id)
	}
	slices.Sort(s.Supernodes)
	for i := range s.Slots {
		if !s.Slots[i].Supernode {
			s.Slots[i].Holds = z.holdings(r, cfg.HoldPerPeer)
		}
	}

	// Churn: every departure is replaced by a newcomer (a leaf).
	var churn []churnEv
	for q.Len() > 0 {
		ev := heap.Pop(q).(churnEv)
		churn = append(churn, ev)
		if !ev.depart {
			continue
		}
		id := len(s.Slots)
		at := ev.at + time.Millisecond
		if at >= T {
			continue
		}
		sl := Slot{ID: id, Joined: at, Leaves: never, Holds: z.holdings(r, cfg.HoldPerPeer)}
		if l := scaled(cfg.Churn.Session(r)); at+l < T {
			sl.Leaves = at + l
			heap.Push(q, churnEv{at: at + l, depart: true, slot: id})
		}
		s.Slots = append(s.Slots, sl)
		heap.Push(q, churnEv{at: at, slot: id})
	}

	// Workload, drawn against the live set at each instant.
	var work []Event
	t := cfg.Warmup
	for {
		t += time.Duration(r.ExpFloat64() / cfg.LookupRate * float64(time.Second))
		if t >= cfg.Warmup+cfg.Measure {
			break
		}
		work = append(work, Event{At: t, Kind: EvLookup})
	}
	if cfg.PublishRate > 0 {
		t = cfg.Warmup
		for {
			t += time.Duration(r.ExpFloat64() / cfg.PublishRate * float64(time.Second))
			if t >= cfg.Warmup+cfg.Measure {
				break
			}
			work = append(work, Event{At: t, Kind: EvPublish})
		}
	}
	sort.SliceStable(work, func(i, j int) bool { return work[i].At < work[j].At })

	leaves := newLiveSet()
	holders := make(map[int]map[int]bool) // object → live holder slots
	for _, id := range s.Initial {
		if !s.Slots[id].Supernode {
			leaves.add(id)
		}
	}
	setHolder := func(id int, on bool) {
		for _, o := range s.Slots[id].Holds {
			if holders[o] == nil {
				holders[o] = map[int]bool{}
			}
			if on {
				holders[o][id] = true
			} else {
				delete(holders[o], id)
			}
		}
	}
	for _, id := range leaves.list {
		setHolder(id, true)
	}
	nextObject := cfg.Objects
	ci := 0
	for _, w := range work {
		for ci < len(churn) && churn[ci].at <= w.At {
			ev := churn[ci]
			ci++
			if s.Slots[ev.slot].Supernode {
				continue
			}
			if ev.depart {
				leaves.remove(ev.slot)
				setHolder(ev.slot, false)
			} else {
				leaves.add(ev.slot)
				setHolder(ev.slot, true)
			}
		}
		if len(leaves.list) < 2 {
			continue
		}
		switch w.Kind {
		case EvLookup:
			issuer := leaves.draw(r)
			for range 20 { // an issuer that has finished joining
				if s.Slots[issuer].Joined+cfg.Grace <= w.At {
					break
				}
				issuer = leaves.draw(r)
			}
			obj := -1
			for range 100 {
				o := z.draw(r)
				if s.heldAt(holders[o], issuer, w.At) {
					obj = o
					break
				}
			}
			if obj < 0 {
				continue // nothing held right now (tiny populations)
			}
			w.Slot, w.Object = issuer, obj
		case EvPublish:
			pub := leaves.draw(r)
			if s.Slots[pub].Leaves < w.At+time.Minute {
				continue // would leave before it is found; keep the probe about the tracker
			}
			prober := pub
			for prober == pub {
				prober = leaves.draw(r)
			}
			w.Slot, w.Peer, w.Object = pub, prober, nextObject
			nextObject++
		}
		s.Events = append(s.Events, w)
	}
	for _, ev := range churn {
		kind := EvArrive
		if ev.depart {
			kind = EvDepart
		}
		s.Events = append(s.Events, Event{At: ev.at, Kind: kind, Slot: ev.slot})
	}
	sort.SliceStable(s.Events, func(i, j int) bool { return s.Events[i].At < s.Events[j].At })
	return s, nil
}

// heldAt: some live holder other than the issuer has been online for the
// grace period at t.
func (s *Schedule) heldAt(hs map[int]bool, issuer int, t time.Duration) bool {
	for h := range hs {
		if h != issuer && s.Slots[h].Joined+s.Cfg.Grace <= t {
			return true
		}
	}
	return false
}

// Count returns how many events of kind the schedule holds.
func (s *Schedule) Count(kind string) int {
	n := 0
	for _, e := range s.Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}
