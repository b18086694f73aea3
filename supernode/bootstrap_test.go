package supernode_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// Supernodes restarted together each dial the others before all of them
// serve. A supernode whose bootstrap peer did not answer as a supernode
// retries it: once that peer serves, the two see each other, though the
// peer knows nobody and neither can learn the other through gossip.
func TestBootstrapRetriesAPeerNotYetServing(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	hostB := inproc.NewHost(t) // up, but not serving the supernode protocol yet
	hostA := inproc.NewHost(t)
	a := startBootstrappingTo(t, hostA, cfg, peer.AddrInfo{ID: hostB.ID(), Addrs: hostB.Addrs()})
	inproc.WaitFor(t, 10*time.Second, "A's first bootstrap dial", func() bool {
		return hostB.Network().Connectedness(hostA.ID()) == network.Connected
	})
	if a.MemberCount() != 1 {
		t.Fatalf("A's view holds %d members before B serves, want itself only", a.MemberCount())
	}
	waitFound(t, a, startBootstrappingTo(t, hostB, cfg))
}

// A bootstrap peer that is not listening yet (connection refused; libp2p
// then backs off from its address for 5 s and more) is found once it
// listens on its address: the retries ignore the dial backoff.
func TestBootstrapRetriesAPeerNotYetListening(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// B's address: a port that was free a moment ago, closed again.
	probe, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	addrB := probe.Addrs()[0]
	probe.Close()
	idB, _ := peer.IDFromPrivateKey(key)
	hostA := inproc.NewHost(t)
	a := startBootstrappingTo(t, hostA, cfg, peer.AddrInfo{ID: idB, Addrs: []ma.Multiaddr{addrB}})
	inproc.WaitFor(t, 10*time.Second, "A's first dial to be refused", func() bool {
		return hostA.Network().(*swarm.Swarm).Backoff().Backoff(idB, addrB)
	})
	hostB, err := libp2p.New(libp2p.Identity(key), libp2p.ListenAddrs(addrB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hostB.Close() })
	waitFound(t, a, startBootstrappingTo(t, hostB, cfg))
}

// startBootstrappingTo starts a supernode on h that bootstraps to boot
// (none: it waits to be found).
func startBootstrappingTo(t *testing.T, h host.Host, cfg supernode.Config, boot ...peer.AddrInfo) *supernode.Node {
	t.Helper()
	cfg.BootstrapPeers = boot
	sn, err := supernode.New(h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn
}

// waitFound waits until a and b (alone) see each other.
func waitFound(t *testing.T, a, b *supernode.Node) {
	t.Helper()
	inproc.WaitFor(t, 20*time.Second, "A and B to see each other", func() bool {
		return a.MemberCount() == 2 && b.MemberCount() == 2
	})
}
