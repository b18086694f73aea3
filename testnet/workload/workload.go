package workload

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/testnet/scenario"
)

// Version of the schedule JSONL format.
const Version = 1

// Kind of a scheduled op.
type Kind string

// Op kinds.
const (
	Announce      Kind = "announce"
	Lookup        Kind = "lookup"
	Kill          Kind = "kill"
	Restart       Kind = "restart"
	MassFailure   Kind = "mass_failure"
	KillSupernode Kind = "kill_supernode"
)

// Causes carried by ops.
const (
	CauseInitial     = "initial"      // warmup announce
	CauseChurn       = "churn"        // MTTF/MTTR churn kill or restart
	CauseMassFailure = "mass_failure" // mass-failure kill or restart
	CauseTargeted    = "targeted"     // targeted supernode kill or its restart
)

// ErrTooManyEvents is returned when a schedule would exceed max_events.
var ErrTooManyEvents = errors.New("workload: schedule exceeds max_events")

// ErrInvalidSchedule is wrapped by ReadSchedule errors.
var ErrInvalidSchedule = errors.New("workload: invalid schedule")

// Op is one scheduled operation. Fields that do not apply are -1 (Node,
// Object) or omitted (Index, Ref, Cause, Nodes).
type Op struct {
	ID     uint64        `json:"id"`    // 1-based position in the schedule
	At     time.Duration `json:"at_ns"` // offset from schedule time zero
	Kind   Kind          `json:"kind"`
	Node   int           `json:"node"`   // -1: none, or resolved at run time
	Object int           `json:"object"` // announce, lookup; else -1
	// Index (kill_supernode): kill supernode number Index mod S among the S
	// current supernodes ordered by node index.
	Index int `json:"index,omitempty"`
	// Ref (restart with Node -1): ID of the kill_supernode op whose victim
	// is to be restarted.
	Ref   uint64 `json:"ref,omitempty"`
	Cause string `json:"cause,omitempty"`
	Nodes []int  `json:"nodes,omitempty"` // mass_failure: the victims
}

// Header is the first line of a schedule file.
type Header struct {
	Version        int           `json:"v"`
	Format         string        `json:"format"` // "supertracker-schedule"
	Scenario       string        `json:"scenario"`
	ScenarioSHA256 string        `json:"scenario_sha256"`
	Seed           uint64        `json:"seed"`
	Nodes          int           `json:"nodes"`
	Objects        int           `json:"objects"`
	Duration       time.Duration `json:"duration_ns"`
	Ops            int           `json:"ops"`
	Counts         map[Kind]int  `json:"counts"`
	// Dropped counts announces/lookups not scheduled because no node was up.
	Dropped int `json:"dropped"`
}

// Schedule is a generated run plan.
type Schedule struct {
	Header Header
	Ops    []Op
}

const formatName = "supertracker-schedule"

// Stream constants: one PCG stream per component.
const (
	streamChurn    = 0x636875726e // "churn"
	streamTargeted = 0x746172676574
	streamInitial  = 0x696e6974
	streamAnnounce = 0x616e6e6f756e6365
	streamLookup   = 0x6c6f6f6b7570
)

func newRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

type gen struct {
	sc      *scenario.Scenario
	dur     time.Duration
	max     int
	ops     []*pending
	down    [][]interval // per node, sorted, disjoint down intervals
	dropped int
	zipf    *ZipfSampler
}

type pending struct {
	Op
	refTo *pending
}

type interval struct{ from, to time.Duration } // [from, to)

func (g *gen) add(op Op, ref *pending) (*pending, error) {
	if len(g.ops) >= g.max {
		return nil, fmt.Errorf("%w (%d)", ErrTooManyEvents, g.max)
	}
	p := &pending{Op: op, refTo: ref}
	g.ops = append(g.ops, p)
	return p, nil
}

// Generate builds the schedule for sc with the given seed (pass sc.Seed to
// use the scenario's own). sc must be valid.
func Generate(sc *scenario.Scenario, seed uint64) (*Schedule, error) {
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	g := &gen{
		sc:   sc,
		dur:  sc.Duration.Duration,
		max:  sc.EffectiveMaxEvents(),
		down: make([][]interval, sc.NodeCount),
	}
	var err error
	if g.zipf, err = NewZipfSampler(sc.Objects, sc.Zipf.S, sc.Zipf.V); err != nil {
		return nil, err
	}
	steps := []func(uint64) error{g.initial, g.churn, g.targeted, g.announces, g.lookups}
	for _, step := range steps {
		if err := step(seed); err != nil {
			return nil, err
		}
	}
	sort.SliceStable(g.ops, func(i, j int) bool { return g.ops[i].At < g.ops[j].At })
	s := &Schedule{
		Header: Header{
			Version: Version, Format: formatName,
			Scenario: sc.Name, ScenarioSHA256: sc.Hash(), Seed: seed,
			Nodes: sc.NodeCount, Objects: sc.Objects, Duration: g.dur,
			Ops: len(g.ops), Counts: map[Kind]int{}, Dropped: g.dropped,
		},
		Ops: make([]Op, len(g.ops)),
	}
	for i, p := range g.ops {
		p.ID = uint64(i + 1)
	}
	for i, p := range g.ops {
		if p.refTo != nil {
			p.Ref = p.refTo.ID
		}
		s.Ops[i] = p.Op
		s.Header.Counts[p.Kind]++
	}
	return s, nil
}

// meanInterval returns 1/rate (rate > 0) as a Duration, clamped so that sums
// with offsets inside the run cannot overflow.
func meanInterval(rate float64) time.Duration {
	ns := float64(1e9 / rate)
	if ns >= float64(math.MaxInt64/4) {
		return math.MaxInt64 / 4
	}
	return time.Duration(ns)
}

// expDur returns an exponential duration with the given mean.
func expDur(r *rand.Rand, mean time.Duration) time.Duration {
	v := float64(r.ExpFloat64() * float64(mean))
	if v >= float64(math.MaxInt64/4) {
		return math.MaxInt64 / 4
	}
	return time.Duration(v)
}

// initial: warmup announces, InitialHolders distinct nodes per object.
func (g *gen) initial(seed uint64) error {
	h := g.sc.InitialHolders
	if h == 0 {
		return nil
	}
	r := newRand(seed, streamInitial)
	type pair struct{ obj, node int }
	pairs := make([]pair, 0, g.sc.Objects*h)
	nodes := make([]int, g.sc.NodeCount)
	for obj := range g.sc.Objects {
		for i := range nodes {
			nodes[i] = i
		}
		for i := range h { // partial Fisher–Yates
			j := i + r.IntN(len(nodes)-i)
			nodes[i], nodes[j] = nodes[j], nodes[i]
			pairs = append(pairs, pair{obj, nodes[i]})
		}
		if len(pairs) > g.max {
			return fmt.Errorf("%w (%d)", ErrTooManyEvents, g.max)
		}
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	w := g.sc.Warmup.Duration
	n := int64(len(pairs))
	for j, p := range pairs {
		at := time.Duration(int64(w) / n * int64(j))
		if _, err := g.add(Op{At: at, Kind: Announce, Node: p.node, Object: p.obj, Cause: CauseInitial}, nil); err != nil {
			return err
		}
	}
	return nil
}

// churn: per-node MTTF/MTTR alternation plus the mass failure.
func (g *gen) churn(seed uint64) error {
	if !g.sc.Churn.Enabled {
		return nil
	}
	r := newRand(seed, streamChurn)
	specs := g.sc.NodeSpecs()
	type state struct {
		up        bool
		next      time.Duration // time of the next transition
		downSince time.Duration
		downCause string
	}
	st := make([]state, len(specs))
	warm := g.sc.Warmup.Duration
	for i, ns := range specs {
		st[i] = state{up: true, next: never}
		if !ns.MTTF.IsNone() {
			st[i].next = warm + expDur(r, ns.MTTF.Duration)
		}
	}
	kill := func(i int, at time.Duration, cause string) error {
		st[i].up, st[i].downSince, st[i].downCause = false, at, cause
		_, err := g.add(Op{At: at, Kind: Kill, Node: i, Object: -1, Cause: cause}, nil)
		return err
	}
	// advance processes every transition strictly before until.
	advance := func(until time.Duration) error {
		for i, ns := range specs {
			for st[i].next < until {
				at := st[i].next
				if st[i].up {
					if err := kill(i, at, CauseChurn); err != nil {
						return err
					}
					st[i].next = never
					if !ns.MTTR.IsNone() {
						st[i].next = at + expDur(r, ns.MTTR.Duration)
					}
					continue
				}
				st[i].up = true
				g.down[i] = append(g.down[i], interval{st[i].downSince, at})
				if _, err := g.add(Op{At: at, Kind: Restart, Node: i, Object: -1, Cause: st[i].downCause}, nil); err != nil {
					return err
				}
				st[i].next = never
				if !ns.MTTF.IsNone() {
					st[i].next = at + expDur(r, ns.MTTF.Duration)
				}
			}
		}
		return nil
	}
	if m := g.sc.Churn.MassFailure; m != nil {
		at := m.At.Duration
		if err := advance(at); err != nil {
			return err
		}
		var up []int
		for i := range st {
			if st[i].up {
				up = append(up, i)
			}
		}
		k := min(int(math.Ceil(float64(m.Fraction*float64(len(up))))), len(up))
		for i := range k { // partial Fisher–Yates
			j := i + r.IntN(len(up)-i)
			up[i], up[j] = up[j], up[i]
		}
		victims := slices.Clone(up[:k])
		slices.Sort(victims)
		if _, err := g.add(Op{At: at, Kind: MassFailure, Node: -1, Object: -1, Nodes: victims}, nil); err != nil {
			return err
		}
		for _, v := range victims {
			if err := kill(v, at, CauseMassFailure); err != nil {
				return err
			}
			st[v].next = never
			if !m.RestartAfter.IsNone() {
				st[v].next = at + m.RestartAfter.Duration
			}
		}
	}
	if err := advance(g.dur); err != nil {
		return err
	}
	for i := range st {
		if !st[i].up {
			g.down[i] = append(g.down[i], interval{st[i].downSince, never})
		}
	}
	return nil
}

const never = time.Duration(math.MaxInt64)

// targeted: kill_supernode ops at fixed offsets and at a Poisson rate, each
// followed by a restart after RestartAfter (if within the run).
func (g *gen) targeted(seed uint64) error {
	t := g.sc.Churn.Targeted
	if !g.sc.Churn.Enabled || (len(t.At) == 0 && t.Rate == 0) {
		return nil
	}
	r := newRand(seed, streamTargeted)
	var times []time.Duration
	for _, at := range t.At {
		times = append(times, at.Duration)
	}
	if t.Rate > 0 {
		mean := meanInterval(t.Rate)
		for at := g.sc.Warmup.Duration + expDur(r, mean); at < g.dur; at += expDur(r, mean) {
			if len(times) >= g.max {
				return fmt.Errorf("%w (%d)", ErrTooManyEvents, g.max)
			}
			times = append(times, at)
		}
	}
	slices.Sort(times)
	for _, at := range times {
		k, err := g.add(Op{At: at, Kind: KillSupernode, Node: -1, Object: -1, Index: r.IntN(1 << 20), Cause: CauseTargeted}, nil)
		if err != nil {
			return err
		}
		if t.RestartAfter.IsNone() || at+t.RestartAfter.Duration >= g.dur {
			continue
		}
		if _, err := g.add(Op{At: at + t.RestartAfter.Duration, Kind: Restart, Node: -1, Object: -1, Cause: CauseTargeted}, k); err != nil {
			return err
		}
	}
	return nil
}

func (g *gen) announces(seed uint64) error {
	return g.poisson(newRand(seed, streamAnnounce), g.sc.AnnounceRate, Announce)
}

func (g *gen) lookups(seed uint64) error {
	return g.poisson(newRand(seed, streamLookup), g.sc.LookupRate, Lookup)
}

// poisson schedules kind ops at the given overall rate after the warmup,
// each by a node up at that moment for a Zipf-drawn object.
func (g *gen) poisson(r *rand.Rand, rate float64, kind Kind) error {
	if rate == 0 {
		return nil
	}
	mean := meanInterval(rate)
	for at := g.sc.Warmup.Duration + expDur(r, mean); at < g.dur; at += expDur(r, mean) {
		obj := g.zipf.Sample(r)
		node, ok := g.pickUp(r, at)
		if !ok {
			g.dropped++
			continue
		}
		if _, err := g.add(Op{At: at, Kind: kind, Node: node, Object: obj}, nil); err != nil {
			return err
		}
	}
	return nil
}

// isUp reports whether node i is up at t per the deterministic churn.
func (g *gen) isUp(i int, t time.Duration) bool {
	iv := g.down[i]
	k := sort.Search(len(iv), func(k int) bool { return iv[k].to > t })
	return k == len(iv) || t < iv[k].from
}

// pickUp draws a node uniformly among those up at t: rejection sampling,
// falling back to an explicit list when most nodes are down.
func (g *gen) pickUp(r *rand.Rand, t time.Duration) (int, bool) {
	n := g.sc.NodeCount
	for range 32 {
		if i := r.IntN(n); g.isUp(i, t) {
			return i, true
		}
	}
	var up []int
	for i := range n {
		if g.isUp(i, t) {
			up = append(up, i)
		}
	}
	if len(up) == 0 {
		return -1, false
	}
	return up[r.IntN(len(up))], true
}

// ZipfSampler draws ranks 0..K-1 with P(k) ∝ (v+k)^-s by inverse transform
// sampling over a precomputed cumulative table.
type ZipfSampler struct {
	cdf []float64 // cdf[k] = sum_{j<=k} (v+j)^-s
}

// NewZipfSampler builds the table for k objects (k >= 1, s >= 0, v >= 1).
func NewZipfSampler(k int, s, v float64) (*ZipfSampler, error) {
	if k < 1 || !(s >= 0) || !(v >= 1) || math.IsInf(s, 0) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("workload: invalid Zipf parameters k=%d s=%v v=%v", k, s, v)
	}
	z := &ZipfSampler{cdf: make([]float64, k)}
	sum := 0.0
	for j := range k {
		sum += math.Pow(v+float64(j), -s)
		z.cdf[j] = sum
	}
	return z, nil
}

// P returns the probability of rank k.
func (z *ZipfSampler) P(k int) float64 {
	prev := 0.0
	if k > 0 {
		prev = z.cdf[k-1]
	}
	return (z.cdf[k] - prev) / z.cdf[len(z.cdf)-1]
}

// Sample draws one rank using one Float64 from r.
func (z *ZipfSampler) Sample(r *rand.Rand) int {
	u := float64(r.Float64() * z.cdf[len(z.cdf)-1])
	k := sort.Search(len(z.cdf), func(k int) bool { return z.cdf[k] > u })
	return min(k, len(z.cdf)-1)
}

// ObjectName returns the canonical name of object i; its SHA-256 is the
// object's digest.
func ObjectName(i int) string { return "supertracker-testnet/object/" + strconv.Itoa(i) }

// ObjectDigest returns SHA-256(ObjectName(i)).
func ObjectDigest(i int) [32]byte { return sha256.Sum256([]byte(ObjectName(i))) }

// ObjectCID returns the CID nodes announce and look up for object i: CIDv1,
// codec raw, multihash sha2-256 of ObjectName(i).
func ObjectCID(i int) cid.Cid {
	d := ObjectDigest(i)
	mh, err := multihash.Encode(d[:], multihash.SHA2_256)
	if err != nil { // cannot happen: fixed code and length
		panic(err)
	}
	return cid.NewCidV1(cid.Raw, mh)
}

// WriteTo writes the schedule as JSONL: the header line, then one op per
// line.
func (s *Schedule) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriter(w)
	var n int64
	write := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		b = append(b, '\n')
		m, err := bw.Write(b)
		n += int64(m)
		return err
	}
	if err := write(s.Header); err != nil {
		return n, err
	}
	for i := range s.Ops {
		if err := write(&s.Ops[i]); err != nil {
			return n, err
		}
	}
	return n, bw.Flush()
}

// MarshalJSONL returns the JSONL serialisation (see WriteTo).
func (s *Schedule) MarshalJSONL() []byte {
	var buf bytes.Buffer
	if _, err := s.WriteTo(&buf); err != nil { // bytes.Buffer never fails
		panic(err)
	}
	return buf.Bytes()
}

// ReadSchedule parses and checks a JSONL schedule written by WriteTo.
func ReadSchedule(r io.Reader) (*Schedule, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	line := 0
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrInvalidSchedule, line, fmt.Sprintf(format, args...))
	}
	strict := func(b []byte, v any) error {
		d := json.NewDecoder(bytes.NewReader(b))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return err
		}
		if d.More() {
			return errors.New("trailing data")
		}
		return nil
	}
	s := &Schedule{}
	for sc.Scan() {
		line++
		if line == 1 {
			if err := strict(sc.Bytes(), &s.Header); err != nil {
				return nil, bad("header: %v", err)
			}
			if s.Header.Version != Version || s.Header.Format != formatName {
				return nil, bad("not a version %d %s header", Version, formatName)
			}
			continue
		}
		var op Op
		if err := strict(sc.Bytes(), &op); err != nil {
			return nil, bad("%v", err)
		}
		if err := s.checkOp(&op, len(s.Ops)); err != nil {
			return nil, bad("%v", err)
		}
		s.Ops = append(s.Ops, op)
	}
	if err := sc.Err(); err != nil {
		return nil, bad("%v", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSchedule)
	}
	if len(s.Ops) != s.Header.Ops {
		return nil, fmt.Errorf("%w: header says %d ops, found %d", ErrInvalidSchedule, s.Header.Ops, len(s.Ops))
	}
	return s, nil
}

func (s *Schedule) checkOp(op *Op, idx int) error {
	h := &s.Header
	if op.ID != uint64(idx+1) {
		return fmt.Errorf("op id %d, want %d", op.ID, idx+1)
	}
	if op.At < 0 || op.At >= h.Duration {
		return fmt.Errorf("at_ns %d outside [0, %d)", op.At, h.Duration)
	}
	if idx > 0 && op.At < s.Ops[idx-1].At {
		return fmt.Errorf("ops not in time order")
	}
	validNode := func(n int) bool { return n >= 0 && n < h.Nodes }
	switch op.Kind {
	case Announce, Lookup:
		if !validNode(op.Node) || op.Object < 0 || op.Object >= h.Objects {
			return fmt.Errorf("%s: bad node %d or object %d", op.Kind, op.Node, op.Object)
		}
	case Kill:
		if !validNode(op.Node) {
			return fmt.Errorf("kill: bad node %d", op.Node)
		}
	case Restart:
		if op.Node == -1 {
			if op.Ref == 0 || op.Ref >= op.ID || s.Ops[op.Ref-1].Kind != KillSupernode {
				return fmt.Errorf("restart: ref %d is not an earlier kill_supernode", op.Ref)
			}
		} else if !validNode(op.Node) {
			return fmt.Errorf("restart: bad node %d", op.Node)
		}
	case MassFailure:
		for _, n := range op.Nodes {
			if !validNode(n) {
				return fmt.Errorf("mass_failure: bad node %d", n)
			}
		}
	case KillSupernode:
		if op.Index < 0 {
			return fmt.Errorf("kill_supernode: negative index")
		}
	default:
		return fmt.Errorf("unknown kind %q", op.Kind)
	}
	return nil
}
