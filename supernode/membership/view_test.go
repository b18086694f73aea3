package membership_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode/membership"
)

var lim = protocol.DefaultLimits

type node struct {
	key  crypto.PrivKey
	id   peer.ID
	addr ma.Multiaddr
	seq  uint64
}

func newNode(t testing.TB, ip string) *node {
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := peer.IDFromPrivateKey(k)
	return &node{key: k, id: id, addr: ma.StringCast("/ip4/" + ip + "/tcp/4001")}
}

func (n *node) cert(t testing.TB, now time.Time, leaving bool) (*protocol.SupernodeCert, []byte) {
	t.Helper()
	n.seq++
	c := &protocol.SupernodeCert{Peer: n.id, Addrs: []ma.Multiaddr{n.addr}, Seq: n.seq, Issued: now,
		Expires: now.Add(time.Minute), Leaving: leaving}
	env, err := lim.SignCert(c, n.key)
	if err != nil {
		t.Fatal(err)
	}
	return c, env
}

func key(t testing.TB, i int) []byte {
	h, err := mh.Sum([]byte(fmt.Sprint("object ", i)), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// join learns and verifies n in v, as a session with it would.
func join(t testing.TB, v *membership.View, n *node, now time.Time) {
	t.Helper()
	_, env := n.cert(t, now, false)
	if _, _, err := v.Learn(env, now); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(n.id, n.addr); err != nil {
		t.Fatal(err)
	}
}

func TestReplicasAreTheXORClosestWithoutDiversity(t *testing.T) {
	now := time.Now()
	self := newNode(t, "127.0.0.1")
	v := membership.New(membership.Config{Self: self.id, Limits: lim})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	ids := []peer.ID{self.id}
	for range 30 {
		n := newNode(t, "127.0.0.1")
		join(t, v, n, now)
		ids = append(ids, n.id)
	}
	for i := range 50 {
		k := key(t, i)
		got := v.Snapshot().Replicas(k, 8, now)
		want := kb.SortClosestPeers(ids, kb.ConvertKey(string(k)))[:8]
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("key %d: replicas %v, kad-dht's closest %v", i, got, want)
		}
	}
}

func TestOnePrefixHoldsAtMostOneReplica(t *testing.T) {
	now := time.Now()
	self := newNode(t, "10.0.0.1")
	v := membership.New(membership.Config{Self: self.id, PrefixBits4: 24, Limits: lim})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	for i := range 5 {
		join(t, v, newNode(t, fmt.Sprintf("10.0.%d.1", i+1)), now)
	}
	attackers := map[peer.ID]bool{}
	for i := range 40 { // k identities on one /24
		n := newNode(t, fmt.Sprintf("192.0.2.%d", i+1))
		join(t, v, n, now)
		attackers[n.id] = true
	}
	for i := range 200 {
		got := v.Snapshot().Replicas(key(t, i), 4, now)
		if len(got) != 4 {
			t.Fatalf("key %d: %d replicas, want 4", i, len(got))
		}
		bad := 0
		for _, p := range got {
			if attackers[p] {
				bad++
			}
		}
		if bad > 1 {
			t.Fatalf("key %d: %d of 4 replicas from one /24", i, bad)
		}
	}
}

func TestOnlyVerifiedUsableMembersArePlaced(t *testing.T) {
	now := time.Now()
	self := newNode(t, "127.0.0.1")
	v := membership.New(membership.Config{Self: self.id, Limits: lim})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	a, b, liar := newNode(t, "127.0.0.2"), newNode(t, "127.0.0.3"), newNode(t, "192.0.2.4")
	join(t, v, a, now)
	_, envB := b.cert(t, now, false)
	if _, _, err := v.Learn(envB, now); err != nil {
		t.Fatal(err)
	}
	if v.Snapshot().Has(b.id, now) {
		t.Fatal("a gossiped, unverified member is placed")
	}
	_, envL := liar.cert(t, now, false)
	v.Learn(envL, now)
	if err := v.Verify(liar.id, ma.StringCast("/ip4/192.0.2.99/tcp/1")); err == nil {
		t.Fatal("verified at an address its cert does not name")
	}
	if v.MarkDown(a.id); v.Snapshot().Has(a.id, now) {
		t.Fatal("a member marked down is placed")
	}
	if err := v.Verify(a.id, a.addr); err != nil || !v.Snapshot().Has(a.id, now) {
		t.Fatal("a member that answered again is not placed")
	}
	_, leaving := a.cert(t, now, true)
	if _, changed, _ := v.Learn(leaving, now); !changed || v.Snapshot().Has(a.id, now) {
		t.Fatal("a leaving member is placed")
	}
	if got := v.Snapshot().Size(now.Add(2 * time.Minute)); got != 1 {
		t.Fatalf("after every cert expired %d members are placed, want 1 (self)", got)
	}
	if gone := v.Expire(now.Add(2 * time.Minute)); len(gone) != 3 {
		t.Fatalf("expired %d, want 3", len(gone))
	}
}

// 127.0.0.0/8 is one host: a supernode whose cert names 127.0.60.32 and
// whose dial left from 127.0.0.1 (its listen address could not be bound:
// the 4-tuple was still in TIME_WAIT after a restart) is verified, in the
// cert's group; a loopback connection verifies no cert that names only
// other hosts.
func TestLoopbackIsOneHost(t *testing.T) {
	now := time.Now()
	self := newNode(t, "127.0.60.31")
	v := membership.New(membership.Config{Self: self.id, Limits: lim, PrefixBits4: 32})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	local, remote := newNode(t, "127.0.60.32"), newNode(t, "192.0.2.7")
	for _, n := range []*node{local, remote} {
		_, e := n.cert(t, now, false)
		if _, _, err := v.Learn(e, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Verify(local.id, ma.StringCast("/ip4/127.0.0.1/tcp/40001")); err != nil {
		t.Fatalf("a loopback supernode dialling from 127.0.0.1: %v", err)
	}
	if m, _ := v.Get(local.id); !m.Verified || m.Group != "127.0.60.32/32" {
		t.Fatalf("member %+v: want verified in its cert's group 127.0.60.32/32", m)
	}
	if err := v.Verify(remote.id, ma.StringCast("/ip4/127.0.0.1/tcp/40002")); err == nil {
		t.Fatal("a loopback connection verified a cert that names only 192.0.2.7")
	}
}

func TestNewerSendsWhatTheOtherLacks(t *testing.T) {
	now := time.Now()
	self := newNode(t, "127.0.0.1")
	v := membership.New(membership.Config{Self: self.id, Limits: lim})
	c, env := self.cert(t, now, false)
	v.SetSelf(c, env)
	other := membership.New(membership.Config{Self: newNode(t, "127.0.0.9").id, Limits: lim})
	for range 10 {
		join(t, v, newNode(t, "127.0.0.1"), now)
	}
	certs := v.Newer(other.Digest(100), 100, now)
	if len(certs) != 11 {
		t.Fatalf("sent %d certs to an empty view, want 11", len(certs))
	}
	for _, c := range certs {
		other.Learn(c, now)
	}
	if n := len(v.Newer(other.Digest(100), 100, now)); n != 0 {
		t.Fatalf("sent %d certs to an up-to-date view", n)
	}
}
