package supernode_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// Caps are refused clearly: leaves per supernode, records per leaf,
// requests per second per peer.
func TestSupernodeCaps(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.MaxLeaves = 1
	cfg.MaxRecordsPerLeaf = 2
	sns := inproc.StartSupernodes(t, 1, cfg)

	h1, h2 := inproc.NewHost(t), inproc.NewHost(t)
	l1, l2 := dialRaw(t, h1, sns[0]), dialRaw(t, h2, sns[0])
	attach := &pb.Request{Id: 1, Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: true}}}
	if resp := l1.send(attach); resp.Status != pb.Status_OK {
		t.Fatalf("first leaf: %v %s", resp.Status, resp.Error)
	}
	resp := l2.send(attach)
	if resp.Status != pb.Status_OVER_CAPACITY || resp.Error == "" {
		t.Fatalf("second leaf over MaxLeaves=1: %v %q", resp.Status, resp.Error)
	}
	if err := protocol.ResponseError(resp.Status, resp.Error); !errors.Is(err, protocol.ErrOverCapacity) {
		t.Fatalf("refusal does not map to ErrOverCapacity: %v", err)
	}

	key := h1.Peerstore().PrivKey(h1.ID())
	three := []cid.Cid{inproc.CID(t, "c1"), inproc.CID(t, "c2"), inproc.CID(t, "c3")}
	env, err := protocol.DefaultLimits.SignAnnouncement(&protocol.Announcement{Peer: h1.ID(), Seq: 1, Expires: time.Now().Add(time.Minute)}, three, key)
	if err != nil {
		t.Fatal(err)
	}
	resp = l1.send(announceReq(env, three...))
	if resp.Status != pb.Status_REFUSED || !strings.Contains(resp.Error, "records") {
		t.Fatalf("3 records over MaxRecordsPerLeaf=2: %v %q, want REFUSED naming the records cap", resp.Status, resp.Error)
	}
	env, _ = protocol.DefaultLimits.SignAnnouncement(&protocol.Announcement{Peer: h1.ID(), Seq: 2, Expires: time.Now().Add(time.Minute)}, three[:2], key)
	if resp := l1.send(announceReq(env, three[:2]...)); resp.Status != pb.Status_OK {
		t.Fatalf("2 records under the cap: %v %s", resp.Status, resp.Error)
	}
}

func TestSupernodeRateLimit(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.RequestsPerSecond, cfg.RequestBurst = 1, 5
	sns := inproc.StartSupernodes(t, 1, cfg)
	l := dialRaw(t, inproc.NewHost(t), sns[0])
	limited := 0
	for i := 0; i < 20; i++ {
		resp := l.send(&pb.Request{Id: uint64(i + 1), Body: &pb.Request_Attach{Attach: &pb.AttachRequest{}}})
		if resp.Status == pb.Status_RATE_LIMITED {
			limited++
		}
	}
	// A burst of 5 then 1/s: of 20 back-to-back requests, at least 14 are refused.
	if limited < 14 {
		t.Fatalf("%d of 20 requests rate limited, want ≥ 14", limited)
	}
}

// A leaf that knows one supernode finds the others (discovery through the
// supernode, which knows them from its membership view), and a stock
// kad-dht client finds supernodes through the rendezvous key.
func TestSupernodesAreDiscoverable(t *testing.T) {
	sns := inproc.StartSupernodes(t, 4, inproc.SupernodeConfig())
	l := inproc.StartLeaf(t, inproc.LeafConfig([]peer.AddrInfo{sns[0].AddrInfo()}))
	inproc.WaitFor(t, 15*time.Second, "two backups found through discovery", func() bool { return len(l.Supernodes()) == 3 })
	seen := map[peer.ID]bool{}
	for _, s := range l.Supernodes() {
		seen[s.ID] = true
	}
	if len(seen) != 3 {
		t.Fatalf("attached supernodes not distinct: %v", l.Supernodes())
	}

	h := inproc.NewHost(t)
	client, err := dht.New(h, dht.Mode(dht.ModeClient), dht.ProtocolPrefix(protocol.DHTPrefix), dht.BootstrapPeers(sns[3].AddrInfo()))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if err := h.Connect(t.Context(), sns[3].AddrInfo()); err != nil {
		t.Fatal(err)
	}
	inproc.WaitFor(t, 30*time.Second, "the rendezvous record to list ≥ 2 supernodes", func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		n := 0
		for range client.FindProvidersAsync(ctx, protocol.SupernodeRendezvous, 0) {
			n++
		}
		return n >= 2
	})
}
