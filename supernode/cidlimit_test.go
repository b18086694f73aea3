package supernode

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A refused batch names how long until its budget would have room: what
// the refusal is held back by (tarpit), at most maxRefusalDelay.
func TestCIDBudgetRefusalNamesTheWait(t *testing.T) {
	l := newCIDLimiter(CIDRates{PerLeaf: 1000, PerPrefix: 4000})
	now := time.Unix(1_800_000_000, 0)
	leaf := peer.ID("leaf")
	if ok, _ := l.allowLeaf(leaf, "p", 1000, now); !ok {
		t.Fatal("a second's budget refused")
	}
	ok, wait := l.allowLeaf(leaf, "p", 250, now)
	if ok || wait != 250*time.Millisecond {
		t.Fatalf("250 CIDs over a spent 1000/s budget: allowed %v, wait %s; want refused, 250ms", ok, wait)
	}
	if ok, _ := l.allowLeaf(leaf, "p", 250, now.Add(wait)); !ok {
		t.Fatal("refused again after the wait it named")
	}
	if ok, wait := l.allowLeaf(peer.ID("other"), "p", 5000, now); ok || wait != maxRefusalDelay {
		t.Fatalf("a batch over every burst: allowed %v, wait %s; want refused, %s", ok, wait, maxRefusalDelay)
	}
}
