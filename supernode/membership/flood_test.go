package membership_test

import (
	"testing"
	"time"

	"github.com/supertracker/supertracker/supernode/membership"
)

// Certs cost an attacker a key and a signature each (issue 14). A view
// flooded with certs of supernodes nobody verified still takes a real
// supernode, and passes none of those certs on.
func TestCertFloodNeitherFillsNorSpreads(t *testing.T) {
	now := time.Now()
	self := newNode(t, "127.0.0.1")
	v := membership.New(membership.Config{Self: self.id, MaxMembers: 16, PrefixBits4: 32, Limits: lim})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	honest := newNode(t, "127.0.0.2")
	join(t, v, honest, now)
	for range 40 { // junk: valid certs at an address where nothing answers
		_, env := newNode(t, "127.0.0.66").cert(t, now, false)
		_, _, _ = v.Learn(env, now)
	}
	if n := len(v.Members()); n != 16 {
		t.Fatalf("view holds %d members, want its maximum 16", n)
	}
	// A newcomer still gets in, and is verified as a session would.
	newcomer := newNode(t, "127.0.0.3")
	join(t, v, newcomer, now)
	for _, p := range []*node{honest, newcomer} {
		if m, ok := v.Get(p.id); !ok || !m.Verified {
			t.Fatalf("honest member %s missing or unverified in the flooded view", p.id)
		}
	}
	if got := v.Snapshot().Size(now); got != 3 {
		t.Fatalf("%d members usable for placement, want 3 (self, honest, newcomer)", got)
	}
	// Gossip passes on verified members only.
	other := membership.New(membership.Config{Self: newNode(t, "127.0.0.9").id, Limits: lim})
	if certs := v.Newer(other.Digest(100), 100, now); len(certs) != 3 {
		t.Fatalf("gossip passes on %d certs, want the 3 verified ones", len(certs))
	}
}
