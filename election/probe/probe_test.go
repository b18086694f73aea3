package probe_test

import (
	"errors"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// refuseInbound simulates a NAT/firewall: no inbound connection is accepted.
type refuseInbound struct{}

func (refuseInbound) InterceptPeerDial(peer.ID) bool               { return true }
func (refuseInbound) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }
func (refuseInbound) InterceptAccept(network.ConnMultiaddrs) bool  { return false }
func (refuseInbound) InterceptSecured(network.Direction, peer.ID, network.ConnMultiaddrs) bool {
	return true
}
func (refuseInbound) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

func newHost(t *testing.T, opts ...libp2p.Option) host.Host {
	t.Helper()
	h, err := libp2p.New(append([]libp2p.Option{libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func pair(t *testing.T, opts ...libp2p.Option) (client, server host.Host) {
	client, server = newHost(t, opts...), newHost(t)
	s := probe.NewServer(server, protocol.DefaultLimits, probe.Answers{Load: func() *pb.Load { return &pb.Load{Leaves: 3, MaxLeaves: 10, Rho: 0.25} }})
	t.Cleanup(s.Close)
	if err := client.Connect(t.Context(), peer.AddrInfo{ID: server.ID(), Addrs: server.Addrs()}); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// The measurement sees the --bandwidth-limit cap: a capped transfer
// measures near the cap, an uncapped one far above it.
func TestMeasureUploadSeesTheCap(t *testing.T) {
	c, s := pair(t)
	const limit = 256 << 10 // 256 KiB/s
	lim := rate.NewLimiter(rate.Limit(limit), 16<<10)
	capped, err := probe.MeasureUpload(t.Context(), c, s.ID(), protocol.DefaultLimits, lim, 1<<20, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	free, err := probe.MeasureUpload(t.Context(), c, s.ID(), protocol.DefaultLimits, nil, 1<<20, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capped at %d B/s: measured %.0f B/s; uncapped: %.0f B/s", limit, capped, free)
	if capped < 0.7*limit || capped > 1.5*limit {
		t.Fatalf("capped measurement %.0f B/s is not near the cap %d B/s", capped, limit)
	}
	if free < 4*capped {
		t.Fatalf("uncapped measurement %.0f B/s is not well above the capped %.0f B/s", free, capped)
	}
}

func TestDialBack(t *testing.T) {
	c, s := pair(t)
	a, err := probe.DialBack(t.Context(), c, s.ID(), protocol.DefaultLimits)
	if err != nil {
		t.Fatalf("open host: %v", err)
	}
	t.Logf("dialled back at %s", a)

	fc, fs := pair(t, libp2p.ConnectionGater(refuseInbound{}))
	if _, err := probe.DialBack(t.Context(), fc, fs.ID(), protocol.DefaultLimits); !errors.Is(err, probe.ErrUnreachable) {
		t.Fatalf("firewalled host: got %v, want ErrUnreachable", err)
	}
}

func TestQueryLoad(t *testing.T) {
	c, s := pair(t)
	l, err := probe.QueryLoad(t.Context(), c, s.ID(), protocol.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if l.GetLeaves() != 3 || l.GetMaxLeaves() != 10 || l.GetRho() != 0.25 {
		t.Fatalf("load %+v", l)
	}
}

// A leaf answers a load query with no load but the supernodes it knows
// (X-Try-Ultrapeers); addressless entries are left out.
func TestQueryLoadAndSupernodes(t *testing.T) {
	client, server := newHost(t), newHost(t)
	sn := newHost(t)
	s := probe.NewServer(server, protocol.DefaultLimits, probe.Answers{Load: func() *pb.Load { return nil }, Supernodes: func() []peer.AddrInfo {
		return []peer.AddrInfo{{ID: sn.ID(), Addrs: sn.Addrs()}, {ID: client.ID()}}
	}})
	t.Cleanup(s.Close)
	if err := client.Connect(t.Context(), peer.AddrInfo{ID: server.ID(), Addrs: server.Addrs()}); err != nil {
		t.Fatal(err)
	}
	l, try, err := probe.QueryLoadAndSupernodes(t.Context(), client, server.ID(), protocol.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if l != nil || len(try) != 1 || try[0].ID != sn.ID() || len(try[0].Addrs) == 0 {
		t.Fatalf("load %v, supernodes %v: want no load and %s with its addresses", l, try, sn.ID())
	}
}

// A leaf with a promotion pending answers with its candidacy first, then
// the ones it heard; entries out of range are left out, and no more than
// protocol.MaxCandidates are sent.
func TestQueryCandidates(t *testing.T) {
	client, server := newHost(t), newHost(t)
	heard := newHost(t)
	s := probe.NewServer(server, protocol.DefaultLimits, probe.Answers{Candidates: func() []probe.Candidacy {
		out := []probe.Candidacy{
			{Peer: peer.AddrInfo{ID: server.ID(), Addrs: server.Addrs()}, Score: 0.6},
			{Peer: peer.AddrInfo{ID: heard.ID(), Addrs: heard.Addrs()}, Score: 0.4, Age: 1500 * time.Millisecond},
			{Peer: peer.AddrInfo{ID: heard.ID()}, Score: 2},                   // out of range: left out
			{Peer: peer.AddrInfo{ID: heard.ID()}, Score: 0.1, Age: time.Hour}, // too old: left out
		}
		for range protocol.MaxCandidates {
			out = append(out, probe.Candidacy{Peer: peer.AddrInfo{ID: heard.ID()}, Score: 0.1})
		}
		return out
	}})
	t.Cleanup(s.Close)
	if err := client.Connect(t.Context(), peer.AddrInfo{ID: server.ID(), Addrs: server.Addrs()}); err != nil {
		t.Fatal(err)
	}
	a, err := probe.Query(t.Context(), client, server.ID(), protocol.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if a.Load != nil || len(a.Supernodes) != 0 || len(a.Candidates) != protocol.MaxCandidates {
		t.Fatalf("answer %+v: want no load, no supernodes, %d candidates", a, protocol.MaxCandidates)
	}
	c0, c1 := a.Candidates[0], a.Candidates[1]
	if c0.Peer.ID != server.ID() || c0.Score != 0.6 || c0.Age != 0 || len(c0.Peer.Addrs) == 0 {
		t.Errorf("own candidacy %+v", c0)
	}
	if c1.Peer.ID != heard.ID() || c1.Score != 0.4 || c1.Age != 1500*time.Millisecond {
		t.Errorf("heard candidacy %+v", c1)
	}
}
