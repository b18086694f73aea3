package supernode

import (
	"sync"
	"time"
)

// loadMeter measures a supernode's utilisation ρ = λ/μ, the quantity of the
// tracker paper's M/M/1/h model: λ is the measured arrival rate of requests
// (leaf requests and DHT RPCs), μ the measured service rate (1 / mean busy
// time per request). It keeps two fixed windows: the one being filled and
// the last complete one, which is what it reports.
type loadMeter struct {
	mu      sync.Mutex
	window  time.Duration
	start   time.Time
	n       int
	busy    time.Duration
	last    loadSample
	hasLast bool
}

type loadSample struct {
	Arrival float64 // λ, requests per second
	Service float64 // μ, requests per second one worker serves
	Rho     float64 // λ/μ
}

func newLoadMeter(window time.Duration, now time.Time) *loadMeter {
	return &loadMeter{window: window, start: now}
}

// observe records one served request that kept the node busy for d.
func (m *loadMeter) observe(d time.Duration, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(now)
	m.n++
	m.busy += d
}

func (m *loadMeter) roll(now time.Time) {
	elapsed := now.Sub(m.start)
	if elapsed < m.window {
		return
	}
	s := loadSample{}
	if m.n > 0 {
		s.Arrival = float64(m.n) / elapsed.Seconds()
	}
	if m.busy > 0 {
		// Only DHT RPCs (recorded as costing nothing) leave μ unmeasured
		// and ρ zero, rather than μ infinite.
		s.Service = float64(m.n) / m.busy.Seconds()
		s.Rho = s.Arrival / s.Service
	}
	if elapsed >= 2*m.window { // a whole window passed without a roll: idle
		s = loadSample{}
	}
	m.last, m.hasLast = s, true
	m.start, m.n, m.busy = now, 0, 0
}

// sample returns the last complete window's figures.
func (m *loadMeter) sample(now time.Time) loadSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.roll(now)
	return m.last
}
