package baseline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LoadMeter measures a tracker node's load the way the model needs it:
// λ, the rate of requests it served (from a cumulative counter), and ρ, the
// fraction of one core its process was busy (CPU seconds per second, from
// /proc/PID/stat), both over the last sampling window. For a single-threaded
// in-memory server (opentracker) busy CPU is busy time, so μ = λ/ρ is its
// service rate; for a process that also does other work (a flat DHT node
// runs its own queries too) ρ over-counts and μ is a lower bound.
type LoadMeter struct {
	PID   int                  // process to measure
	Count func() (int64, bool) // cumulative requests served; false: unknown now

	mu              sync.Mutex
	prevT           time.Time
	prevCPU         float64
	prevN           int64
	have            bool
	rate, rho, cpuS float64
	ok              bool
}

// Run samples every period until ctx ends.
func (m *LoadMeter) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		m.sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (m *LoadMeter) sample() {
	cpu, err := ProcCPU(m.PID)
	if err != nil {
		return
	}
	n, ok := m.Count()
	if !ok {
		return
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.have && n >= m.prevN && cpu >= m.prevCPU {
		if dt := now.Sub(m.prevT).Seconds(); dt > 0 {
			m.rate = float64(n-m.prevN) / dt
			m.rho = (cpu - m.prevCPU) / dt
			m.ok = true
		}
	}
	m.prevT, m.prevCPU, m.prevN, m.have = now, cpu, n, true
	m.cpuS = cpu
}

// Sample returns λ (requests/s) and ρ of the last window; ok is false
// before two samples were taken.
func (m *LoadMeter) Sample() (rate, rho float64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rate, m.rho, m.ok
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat.
const clockTicks = 100

// ProcCPU returns the cumulative user+system CPU seconds of pid.
func ProcCPU(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("proc stat: bad utime/stime")
	}
	return float64(ut+st) / clockTicks, nil
}
