// Package capped gives a tracker node a fixed service rate μ for lookups,
// so that the paper's Fig. 2 (success against load) can be measured on 2
// cores: every lookup a node answers first passes through one FIFO server
// whose service times are exponential with mean 1/μ (an M/M/1 queue; with
// the lookup timeout T it behaves as the paper's M/M/1/h with h ≈ μT).
// The same Server caps a supernode (WrapHost, on the leaf protocol) and an
// opentracker (Handler, an HTTP proxy in front of it).
//
// A Server writes its measured arrival rate λ and busy fraction ρ = λ/μ to
// a JSON file once a second (Stats, WriteStats) for the load sweep.
package capped

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ErrBadRate: μ must be finite and > 0.
var ErrBadRate = errors.New("capped: service rate must be finite and > 0")

// ErrBlocked: the queue was full (Capacity requests in the system) and the
// request was turned away, as an M/M/1/h queue loses it.
var ErrBlocked = errors.New("capped: queue full")

// Server is one FIFO server with exponential service times.
type Server struct {
	mu   sync.Mutex
	rate float64
	rng  *rand.Rand
	free time.Time // when the server finishes the work queued so far
	// capacity h: requests in the system (queued or in service) beyond
	// which an arrival is turned away; 0: unbounded.
	capacity int
	ends     []time.Time // service ends of the requests in the system, FIFO
	// window counters
	start    time.Time
	arrivals int
	blocked  int
	busy     time.Duration // service time of the arrivals queued in the window
	waits    time.Duration
	// busyTime: time the server was serving within the window, up to
	// accAt (advance). Not busy/window: the work queued in one window is
	// served in later ones, so that ratio swings around 1 under overload.
	busyTime time.Duration
	accAt    time.Time
	last     Stats
}

// Stats is the last complete window's measurement.
type Stats struct {
	At       time.Time `json:"at"`
	Mu       float64   `json:"mu"`        // the configured service rate
	Lambda   float64   `json:"lambda"`    // arrivals per second
	Rho      float64   `json:"rho"`       // busy fraction: time serving / window (≤ 1, the carried load)
	Offered  float64   `json:"offered"`   // offered load: (arrivals + blocked) / window / μ (may exceed 1)
	MeanWait float64   `json:"mean_wait"` // seconds queued before service, mean
	Arrivals int       `json:"arrivals"`
	Blocked  int       `json:"blocked"` // arrivals turned away (queue full), not in Arrivals
	Capacity int       `json:"capacity,omitempty"`
}

// Window is the length of one measurement window.
const Window = time.Second

// NewServer returns a server with rate μ (requests per second).
func NewServer(mu float64, seed uint64) (*Server, error) {
	if !(mu > 0) || math.IsInf(mu, 0) {
		return nil, ErrBadRate
	}
	now := time.Now()
	return &Server{rate: mu, rng: rand.New(rand.NewPCG(seed, seed^0xca99ed)), start: now, accAt: now}, nil
}

// SetCapacity bounds the requests in the system at h (the paper's M/M/1/h:
// with a lookup timeout T, h = ⌊μT⌋ turns away what would time out
// anyway, without the work piling up); 0: unbounded.
func (s *Server) SetCapacity(h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.capacity = max(0, h)
}

// Serve queues one request and returns when its service has finished (or
// ctx ended: the request then leaves the queue's accounting as it was),
// or ErrBlocked at once if the queue is full.
func (s *Server) Serve(ctx context.Context) error {
	_, done, ok := s.Enqueue()
	if !ok {
		return ErrBlocked
	}
	return SleepUntil(ctx, done)
}

// Enqueue queues one request now and returns when its service begins
// (after the requests queued before it) and when it ends; ok is false if
// the queue is full (the request is counted as blocked and not queued).
func (s *Server) Enqueue() (begin, done time.Time, ok bool) {
	return s.enqueueAt(time.Now())
}

func (s *Server) enqueueAt(now time.Time) (begin, done time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(now)
	s.advance(now)
	i := 0
	for i < len(s.ends) && !s.ends[i].After(now) {
		i++
	}
	s.ends = s.ends[i:]
	if s.capacity > 0 && len(s.ends) >= s.capacity {
		s.blocked++
		return time.Time{}, time.Time{}, false
	}
	begin = now
	if s.free.After(now) {
		begin = s.free
	}
	svc := time.Duration(s.rng.ExpFloat64() / s.rate * float64(time.Second))
	s.free = begin.Add(svc)
	s.arrivals++
	s.busy += svc
	s.waits += begin.Sub(now)
	s.ends = append(s.ends, s.free)
	return begin, s.free, true
}

// SleepUntil returns at t, or earlier with ctx's error.
func SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// advance adds the time the server served since accAt: no arrival came
// in between, so it was busy from accAt until the work queued then ran
// out (free) or now, whichever is first.
func (s *Server) advance(now time.Time) {
	if !now.After(s.accAt) {
		return
	}
	if s.free.After(s.accAt) {
		end := now
		if s.free.Before(now) {
			end = s.free
		}
		s.busyTime += end.Sub(s.accAt)
	}
	s.accAt = now
}

func (s *Server) roll(now time.Time) {
	el := now.Sub(s.start)
	if el < Window {
		return
	}
	s.advance(now)
	st := Stats{At: now, Mu: s.rate, Arrivals: s.arrivals, Blocked: s.blocked, Capacity: s.capacity}
	st.Lambda = float64(s.arrivals) / el.Seconds()
	st.Rho = math.Min(1, s.busyTime.Seconds()/el.Seconds())
	st.Offered = float64(s.arrivals+s.blocked) / el.Seconds() / s.rate
	if s.arrivals > 0 {
		st.MeanWait = s.waits.Seconds() / float64(s.arrivals)
	}
	s.last = st
	s.start, s.arrivals, s.blocked, s.busy, s.waits, s.busyTime = now, 0, 0, 0, 0, 0
}

// Stats returns the last complete window.
func (s *Server) Stats() Stats { return s.statsAt(time.Now()) }

func (s *Server) statsAt(now time.Time) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roll(now)
	return s.last
}

// StatsFile is the file WriteStats keeps current in a data directory.
const StatsFile = "service-cap.json"

// WriteStats writes the server's Stats to dir/StatsFile every Window until
// ctx ends.
func (s *Server) WriteStats(ctx context.Context, dir string) {
	t := time.NewTicker(Window)
	defer t.Stop()
	path := filepath.Join(dir, StatsFile)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b, err := json.Marshal(s.Stats())
		if err != nil {
			continue
		}
		tmp := path + ".tmp"
		if os.WriteFile(tmp, b, 0o644) == nil {
			_ = os.Rename(tmp, path)
		}
	}
}

// ReadStats reads dir/StatsFile.
func ReadStats(dir string) (Stats, error) {
	b, err := os.ReadFile(filepath.Join(dir, StatsFile))
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	if err := json.Unmarshal(b, &st); err != nil {
		return Stats{}, err
	}
	return st, nil
}
