// Package inproc starts in-process overlays for tests: real libp2p hosts
// on 127.0.0.1, supernodes bootstrapped into one DHT, leaf agents attached
// to them, and a deadline-bounded poll. Multi-node tests across the tree
// use it instead of each writing its own.
//
//	sns := inproc.StartSupernodes(t, 10, inproc.SupernodeConfig())
//	l := inproc.StartLeaf(t, inproc.LeafConfig(inproc.Infos(sns)))
//	inproc.WaitFor(t, 5*time.Second, "failover", func() bool { return l.Primary() != old })
package inproc

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// Quiet is a logger that discards everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// NewHost starts a libp2p host on 127.0.0.1, closed when the test ends.
func NewHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// SupernodeConfig is supernode.LocalConfig, quiet, with r = 4 and replica
// diversity off (every in-process host shares 127.0.0.1).
func SupernodeConfig() supernode.Config {
	c := supernode.LocalConfig()
	c.Logger = Quiet
	c.ReplicationFactor = 4
	c.PrefixBits4, c.PrefixBits6 = 0, 0
	return c
}

// LeafConfig is a quiet leaf config with fast heartbeats that knows sns.
func LeafConfig(sns []peer.AddrInfo) leaf.Config {
	c := leaf.DefaultConfig()
	c.Supernodes = sns
	c.Logger = Quiet
	c.HeartbeatInterval = 250 * time.Millisecond
	c.RequestTimeout = 5 * time.Second
	return c
}

// StartSupernodes starts n supernodes, all bootstrapped to the first, and
// waits until every membership view holds every supernode.
func StartSupernodes(t testing.TB, n int, cfg supernode.Config) []*supernode.Node {
	t.Helper()
	var nodes []*supernode.Node
	for i := range n {
		c := cfg
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{nodes[0].AddrInfo()}
		}
		sn, err := supernode.New(NewHost(t), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sn.Close() })
		nodes = append(nodes, sn)
	}
	WaitFor(t, 30*time.Second, "membership views to fill", func() bool {
		for _, sn := range nodes {
			if sn.MemberCount() < n {
				return false
			}
		}
		return true
	})
	return nodes
}

// Infos returns the supernodes' peer IDs and addresses.
func Infos(nodes []*supernode.Node) []peer.AddrInfo {
	out := make([]peer.AddrInfo, len(nodes))
	for i, n := range nodes {
		out[i] = n.AddrInfo()
	}
	return out
}

// StartLeaf starts a leaf agent and waits until it has a primary.
func StartLeaf(t testing.TB, cfg leaf.Config) *leaf.Agent {
	t.Helper()
	a, err := leaf.New(NewHost(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.WaitAttached(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

// WaitFor polls cond every 20 ms until it holds; the test fails after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// CID names a test object: CIDv1 raw over sha2-256 of name.
func CID(t testing.TB, name string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}
