package supernode

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

func TestSessionsPrimaryTakesABackupsPlace(t *testing.T) {
	s := newSessions()
	now := time.Now()
	if !s.attach(peer.ID("a"), false, 2, now) || !s.attach(peer.ID("b"), true, 2, now) {
		t.Fatal("attach under capacity failed")
	}
	if s.attach(peer.ID("c"), false, 2, now) {
		t.Fatal("a backup attached over capacity")
	}
	if !s.attach(peer.ID("d"), true, 2, now) {
		t.Fatal("a primary was refused while a backup held a slot")
	}
	if s.attached(peer.ID("a")) || !s.attached(peer.ID("b")) || !s.attached(peer.ID("d")) || s.count() != 2 {
		t.Fatalf("sessions after eviction: %v", s.list())
	}
	if s.attach(peer.ID("e"), true, 2, now) {
		t.Fatal("a primary evicted another leaf's primary")
	}
}
