package supernode_test

import (
	"context"
	"fmt"
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

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func testSupernodeConfig() supernode.Config {
	c := supernode.LocalConfig()
	c.Logger = quiet
	c.ReplicationFactor = 4
	return c
}

// startSupernodes starts n supernodes, all bootstrapped to the first, and
// waits until every routing table holds every other supernode.
func startSupernodes(t testing.TB, n int, cfg supernode.Config) []*supernode.Node {
	t.Helper()
	var nodes []*supernode.Node
	for i := 0; i < n; i++ {
		c := cfg
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{nodes[0].AddrInfo()}
		}
		sn, err := supernode.New(newHost(t), supernode.WithConfig(c))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sn.Close() })
		nodes = append(nodes, sn)
	}
	waitFor(t, 30*time.Second, "routing tables to fill", func() bool {
		for _, sn := range nodes {
			if sn.DHT().RoutingTable().Size() < n-1 {
				sn.DHT().RefreshRoutingTable()
				return false
			}
		}
		return true
	})
	return nodes
}

func infos(nodes []*supernode.Node) []peer.AddrInfo {
	out := make([]peer.AddrInfo, len(nodes))
	for i, n := range nodes {
		out[i] = n.AddrInfo()
	}
	return out
}

func testLeafConfig(sns []peer.AddrInfo) leaf.Config {
	c := leaf.DefaultConfig()
	c.Supernodes = sns
	c.Logger = quiet
	c.HeartbeatInterval = 250 * time.Millisecond
	c.RequestTimeout = 5 * time.Second
	return c
}

func startLeaf(t testing.TB, cfg leaf.Config) *leaf.Agent {
	t.Helper()
	a, err := leaf.New(newHost(t), leaf.WithConfig(cfg))
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

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func testCID(t testing.TB, name string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func holderSet(ais []peer.AddrInfo) map[peer.ID]bool {
	m := make(map[peer.ID]bool, len(ais))
	for _, ai := range ais {
		m[ai.ID] = true
	}
	return m
}

func sameSet(got map[peer.ID]bool, want []peer.ID) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d holders, want %d", len(got), len(want))
	}
	for _, w := range want {
		if !got[w] {
			return fmt.Errorf("holder %s missing", w)
		}
	}
	return nil
}
