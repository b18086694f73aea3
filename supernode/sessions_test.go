package supernode

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

func TestSessionsPrimaryTakesABackupsPlace(t *testing.T) {
	s := newSessions()
	now := time.Now()
	if s.attach(peer.ID("a"), "", false, 2, 0, now) != nil || s.attach(peer.ID("b"), "", true, 2, 0, now) != nil {
		t.Fatal("attach under capacity failed")
	}
	if s.attach(peer.ID("c"), "", false, 2, 0, now) == nil {
		t.Fatal("a backup attached over capacity")
	}
	if s.attach(peer.ID("d"), "", true, 2, 0, now) != nil {
		t.Fatal("a primary was refused while a backup held a slot")
	}
	if s.attached(peer.ID("a")) || !s.attached(peer.ID("b")) || !s.attached(peer.ID("d")) || s.count() != 2 {
		t.Fatalf("sessions after eviction: %v", s.list())
	}
	if err := s.attach(peer.ID("e"), "", true, 2, 0, now); !errors.Is(err, protocol.ErrOverCapacity) {
		t.Fatalf("a primary evicted another leaf's primary (%v)", err)
	}
}

func TestSessionsBoundLeavesPerPrefix(t *testing.T) {
	s := newSessions()
	now := time.Now()
	for i := range 3 {
		if err := s.attach(peer.ID(fmt.Sprint("x", i)), "192.0.2.0", true, 100, 3, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.attach(peer.ID("x4"), "192.0.2.0", true, 100, 3, now); !errors.Is(err, protocol.ErrOverCapacity) {
		t.Fatalf("a fourth leaf from one prefix: %v", err)
	}
	if err := s.attach(peer.ID("y"), "198.51.100.0", true, 100, 3, now); err != nil {
		t.Fatalf("a leaf from another prefix: %v", err)
	}
}

// A window of only zero-cost requests (DHT RPCs) leaves μ unmeasured: a
// finite load report (peers refuse an infinite service rate).
func TestLoadMeterZeroCostRequests(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := newLoadMeter(time.Second, t0)
	for i := range 10 {
		m.observe(0, t0.Add(time.Duration(i)*50*time.Millisecond))
	}
	s := m.sample(t0.Add(1100 * time.Millisecond))
	if s.Arrival <= 0 || s.Service != 0 || s.Rho != 0 {
		t.Fatalf("sample %+v: want an arrival rate, μ unmeasured (0), ρ 0", s)
	}
	m.observe(10*time.Millisecond, t0.Add(1200*time.Millisecond))
	m.observe(10*time.Millisecond, t0.Add(1300*time.Millisecond))
	s = m.sample(t0.Add(2200 * time.Millisecond))
	if s.Service != 100 || s.Rho <= 0 || math.IsInf(s.Rho, 0) {
		t.Fatalf("sample %+v: want μ = 100/s and a finite ρ", s)
	}
}

// A backup session beats protocol.BackupHeartbeatFactor times less often
// than a primary one, so it is kept that much longer.
func TestSessionsExpireBackupsAfterTheFactor(t *testing.T) {
	s := newSessions()
	now := time.Now()
	timeout := 3 * time.Second
	if s.attach(peer.ID("p"), "", true, 10, 0, now) != nil || s.attach(peer.ID("b"), "", false, 10, 0, now) != nil {
		t.Fatal("attach failed")
	}
	s.expire(now.Add(2*timeout), timeout)
	if s.attached(peer.ID("p")) || !s.attached(peer.ID("b")) {
		t.Fatalf("after 2 timeouts: %v (want the backup only)", s.list())
	}
	s.expire(now.Add(protocol.BackupHeartbeatFactor*timeout+time.Millisecond), timeout)
	if s.attached(peer.ID("b")) {
		t.Fatal("backup kept past BackupHeartbeatFactor timeouts")
	}
}
