package scale

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The shipped data parse, and the RTT table is the WonderNetwork summary:
// median 141.6 ms, monotone.
func TestShippedData(t *testing.T) {
	rtt, err := LoadRTT()
	if err != nil {
		t.Fatal(err)
	}
	if m := rtt.MedianMS(); math.Abs(m-141.6) > 0.1 {
		t.Fatalf("median RTT %v ms, want 141.6", m)
	}
	if rtt.Quantile(0) > rtt.Quantile(0.5) || rtt.Quantile(0.5) > rtt.Quantile(1) {
		t.Fatal("quantiles not monotone")
	}
	w, err := ChurnProfile("bt-debian")
	if err != nil || w.Shape != 0.38 || w.ScaleMin != 42.4 {
		t.Fatalf("bt-debian: %+v, %v", w, err)
	}
	if _, err := ChurnProfile("nope"); err == nil {
		t.Fatal("unknown profile accepted")
	}
	for _, bad := range []string{
		"p,rtt_ms\n0,1\n0.5,0.5\n1,2\n", // falling
		"p,rtt_ms\n0,1\n1,x\n",          // not a number
		"p,rtt_ms\n0.1,1\n1,2\n",        // does not start at 0
		"p,rtt_ms\n0,1,2\n",             // fields
	} {
		if _, err := ParseRTT([]byte(bad)); !errors.Is(err, ErrBadData) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Weibull: the draws follow the distribution (median), the stationary
// age fraction agrees with its sample, and residual lives lengthen with
// age (k < 1: the old are stable).
func TestWeibull(t *testing.T) {
	w := Weibull{Shape: 0.38, ScaleMin: 42.4}
	r := rand.New(rand.NewPCG(1, 2))
	const n = 20000
	below := 0
	for range n {
		if w.Session(r) <= w.Median() {
			below++
		}
	}
	if f := float64(below) / n; math.Abs(f-0.5) > 0.02 {
		t.Fatalf("P(L ≤ median) = %v", f)
	}
	old := 0
	for range n {
		if w.Age(r) >= 2*time.Hour {
			old++
		}
	}
	if got, want := float64(old)/n, w.FractionOlder(2*time.Hour); math.Abs(got-want) > 0.02 {
		t.Fatalf("fraction up ≥ 2 h: sampled %v, analytic %v", got, want)
	}
	var young, aged time.Duration
	for range n {
		young += w.Residual(time.Minute, r)
		aged += w.Residual(10*time.Hour, r)
	}
	if !(aged > 3*young) {
		t.Fatalf("mean residual at 10 h %v not ≫ at 1 min %v", aged/n, young/n)
	}
}

// The election's defaults: 1,000 peers settle at 63 supernodes.
func TestSupernodeCount(t *testing.T) {
	for n, want := range map[int]int{1000: 63, 100: 7, 16: 1} {
		if got := SupernodeCount(n); got != want {
			t.Errorf("SupernodeCount(%d) = %d, want %d", n, got, want)
		}
	}
}

func smallConfig() Config {
	c, _ := DefaultConfig()
	c.N, c.Speedup = 200, 50
	c.Warmup, c.Measure, c.Quiet = 10*time.Second, 60*time.Second, 20*time.Second
	return c
}

// The schedule is a function of the config: same seed, same schedule;
// supernodes are the oldest peers; lookups are issued by live, joined
// leaves for objects a live peer holds; churn keeps N online.
func TestScheduleDeterministic(t *testing.T) {
	c := smallConfig()
	a, err := NewSchedule(c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSchedule(c)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same config, different schedules")
	}
	c.Seed++
	if d, _ := NewSchedule(c); reflect.DeepEqual(a.Events, d.Events) {
		t.Fatal("another seed, same events")
	}
	if len(a.Supernodes) != SupernodeCount(200) {
		t.Fatalf("%d supernodes", len(a.Supernodes))
	}
	minSN := time.Duration(math.MaxInt64)
	for _, s := range a.Supernodes {
		minSN = min(minSN, a.Slots[s].Age)
	}
	for _, id := range a.Initial {
		if !a.Slots[id].Supernode && a.Slots[id].Age > minSN {
			t.Fatalf("leaf %d older than a supernode", id)
		}
	}
	live := map[int]bool{}
	for _, id := range a.Initial {
		live[id] = true
	}
	if a.Count(EvDepart) == 0 || a.Count(EvArrive) != a.Count(EvDepart)-countLate(a) {
		t.Fatalf("departures %d arrivals %d", a.Count(EvDepart), a.Count(EvArrive))
	}
	for _, e := range a.Events {
		switch e.Kind {
		case EvDepart:
			delete(live, e.Slot)
		case EvArrive:
			live[e.Slot] = true
		case EvLookup:
			if !live[e.Slot] || a.Slots[e.Slot].Supernode {
				t.Fatalf("lookup by %d: not a live leaf", e.Slot)
			}
			holder := false
			for h := range live {
				if h != e.Slot && containsInt(a.Slots[h].Holds, e.Object) {
					holder = true
				}
			}
			if !holder {
				t.Fatalf("lookup at %v of object %d nobody live holds", e.At, e.Object)
			}
		}
	}
	if len(live) != c.N && len(live) != c.N-countLate(a) {
		t.Fatalf("%d online at the end, want %d", len(live), c.N)
	}
}

// countLate: departures too close to the end for a newcomer to arrive.
func countLate(s *Schedule) int {
	n := 0
	for _, e := range s.Events {
		if e.Kind == EvDepart && e.At+time.Millisecond >= s.Cfg.Total() {
			n++
		}
	}
	return n
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func TestConfigValidate(t *testing.T) {
	for i, f := range []func(*Config){
		func(c *Config) { c.N = 5 },
		func(c *Config) { c.Speedup = 0 },
		func(c *Config) { c.HoldPerPeer = 0 },
		func(c *Config) { c.Measure = 0 },
		func(c *Config) { c.LookupRate = 0 },
		func(c *Config) { c.Supernodes = c.N },
	} {
		c := smallConfig()
		f(&c)
		if c.Validate() == nil {
			t.Errorf("case %d accepted", i)
		}
	}
}

// Summary statistics: nearest percentiles and Wilson bounds.
func TestPercentilesWilson(t *testing.T) {
	p := percentiles([]float64{4, 1, 3, 2, 5})
	if p.P50 != 3 || p.Max != 5 || p.N != 5 {
		t.Fatalf("%+v", p)
	}
	lo, hi := wilson(999, 1000)
	if !(lo > 0.99 && lo < 0.999 && hi > 0.999) {
		t.Fatalf("wilson(999/1000) = [%v, %v]", lo, hi)
	}
}
