package supernode

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// sessions tracks the leaves attached to this supernode.
type sessions struct {
	mu     sync.Mutex
	leaves map[peer.ID]*session
}

type session struct {
	attached time.Time
	lastSeen time.Time
	primary  bool
	prefix   string
}

func newSessions() *sessions { return &sessions{leaves: make(map[peer.ID]*session)} }

// attach adds or refreshes p (from network prefix, "" if unknown); a new
// p is refused when max leaves are attached, or maxPerPrefix from its
// prefix (0: no such bound).
func (s *sessions) attach(p peer.ID, prefix string, primary bool, max, maxPerPrefix int, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.leaves[p]; ok {
		e.lastSeen, e.primary = now, primary
		return nil
	}
	if maxPerPrefix > 0 && prefix != "" {
		k := 0
		for _, e := range s.leaves {
			if e.prefix == prefix {
				k++
			}
		}
		if k >= maxPerPrefix {
			return refuse(pb.Status_OVER_CAPACITY, "%d leaves already attached from %s", k, prefix)
		}
	}
	if len(s.leaves) >= max {
		full := refuse(pb.Status_OVER_CAPACITY, "supernode has its maximum of %d leaves", max)
		if !primary {
			return full
		}
		// Full: a leaf's primary attachment takes the place of another
		// leaf's backup (which moves on at its next heartbeat).
		evicted := false
		for q, e := range s.leaves {
			if !e.primary {
				delete(s.leaves, q)
				evicted = true
				break
			}
		}
		if !evicted {
			return full
		}
	}
	s.leaves[p] = &session{attached: now, lastSeen: now, primary: primary, prefix: prefix}
	return nil
}

// touch records a heartbeat; false if p is not attached.
func (s *sessions) touch(p peer.ID, primary bool, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.leaves[p]
	if ok {
		e.lastSeen, e.primary = now, primary
	}
	return ok
}

func (s *sessions) attached(p peer.ID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.leaves[p]
	return ok
}

func (s *sessions) detach(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.leaves, p)
}

// expire detaches leaves silent for longer than timeout, backup sessions
// after protocol.BackupHeartbeatFactor × timeout (they beat that much less
// often).
func (s *sessions) expire(now time.Time, timeout time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maps.DeleteFunc(s.leaves, func(_ peer.ID, e *session) bool {
		limit := timeout
		if !e.primary {
			limit *= protocol.BackupHeartbeatFactor
		}
		return now.Sub(e.lastSeen) > limit
	})
}

func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.leaves)
}

func (s *sessions) list() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Collect(maps.Keys(s.leaves))
}
