package node_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// supernode.Drain, the one hand-over (SIGTERM and demotion): the leaf of
// the drained supernode moves to the other one, and Drain returns once it
// has no leaf stream open, counting it: 1 attached, 0 remaining; a second
// Drain finds nothing left to hand over.
func TestDrainHandsTheLeafToTheOtherSupernode(t *testing.T) {
	dir, quiet := t.TempDir(), slog.New(slog.NewTextHandler(io.Discard, nil))
	listen := []ma.Multiaddr{ma.StringCast("/ip4/127.0.62.1/tcp/0")}
	start := func(cfg node.Config) *node.Node {
		cfg.Listen, cfg.Logger = listen, quiet
		n, err := node.Start(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	sns := make([]*node.Node, 2)
	for i := range sns {
		c := supernode.LocalConfig()
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{*host.InfoFromHost(sns[0].Host())}
		}
		sns[i] = start(node.Config{Role: node.RoleSupernode, DataDir: filepath.Join(dir, "sn", string(rune('0'+i))), Supernode: c})
	}
	for _, sn := range sns {
		inproc.WaitFor(t, 20*time.Second, "each supernode in the other's view", func() bool { return len(sn.Supernode().Supernodes(3)) == 2 })
	}
	lc := leaf.DefaultConfig()
	lc.DataDir, lc.Backups = filepath.Join(dir, "leaf"), 1
	lc.Supernodes = []peer.AddrInfo{*host.InfoFromHost(sns[0].Host()), *host.InfoFromHost(sns[1].Host())}
	lf := start(node.Config{Role: node.RoleLeaf, DataDir: lc.DataDir, Leaf: lc})
	inproc.WaitFor(t, 20*time.Second, "the leaf attached", func() bool { return lf.Agent().Primary() != "" })
	primary, other := sns[0], sns[1]
	if lf.Agent().Primary() == other.Host().ID() {
		primary, other = other, primary
	}
	// identify carried the build's version as the agent string.
	if av, err := lf.Host().Peerstore().Get(primary.Host().ID(), "AgentVersion"); err != nil || av != node.AgentVersion() {
		t.Errorf("the supernode's agent version: %v (%v), want %s", av, err, node.AgentVersion())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if attached, remaining := primary.Supernode().Drain(ctx); attached != 1 || remaining != 0 {
		t.Fatalf("Drain: %d attached, %d remaining; want 1, 0", attached, remaining)
	}
	inproc.WaitFor(t, 20*time.Second, "the leaf's primary is the other supernode", func() bool { return lf.Agent().Primary() == other.Host().ID() })
	if attached, remaining := primary.Supernode().Drain(ctx); attached != 0 || remaining != 0 {
		t.Fatalf("Drain again: %d attached, %d remaining; want 0, 0", attached, remaining)
	}
}
