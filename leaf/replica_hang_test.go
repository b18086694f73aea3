package leaf_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// storeSwallower is a host whose supernode never sees (so never answers)
// replica stores: every other peer request (hello, gossip, fetch) goes
// through, so it stays a member and is placed as a replica.
type storeSwallower struct {
	host.Host
	swallowed atomic.Int64
}

func (h *storeSwallower) SetStreamHandler(pid libp2pprotocol.ID, handler network.StreamHandler) {
	if pid != protocol.PeerProtocol {
		h.Host.SetStreamHandler(pid, handler)
		return
	}
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.filter(s)) })
}

// filteredStream hands the handler the stream's frames minus stores.
type filteredStream struct {
	network.Stream
	r *io.PipeReader
}

func (s *filteredStream) Read(b []byte) (int, error) { return s.r.Read(b) }

func (h *storeSwallower) filter(s network.Stream) network.Stream {
	pr, pw := io.Pipe()
	go func() {
		r := protocol.DefaultLimits.NewReader(s)
		for {
			frame, err := r.ReadFrame()
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			req, err := protocol.DefaultLimits.DecodePeerRequest(frame)
			if err != nil {
				pw.CloseWithError(err)
				return
			}
			if req.GetStore() != nil {
				h.swallowed.Add(1)
				continue
			}
			if err := protocol.WriteMsg(pw, req); err != nil {
				return
			}
		}
	}()
	return &filteredStream{Stream: s, r: pr}
}

// Acceptance (issue 13, point 2), in process on real supernodes and the
// wall clock: one replica that never answers makes the primary wait for its
// replicate timeout, so the announce is slow; the leaf keeps its primary
// and its heartbeats keep flowing meanwhile, and a lookup in parallel is
// answered at once.
func TestHangingReplicaKeepsPrimaryAndHeartbeats(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.ReplicateTimeout = 3 * time.Second
	var sns []*supernode.Node
	hang := &storeSwallower{Host: inproc.NewHost(t)}
	for i, h := range []host.Host{inproc.NewHost(t), inproc.NewHost(t), hang} {
		c := cfg
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{sns[0].AddrInfo()}
		}
		sn, err := supernode.New(h, c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sn.Close() })
		sns = append(sns, sn)
	}
	inproc.WaitFor(t, 30*time.Second, "membership views to fill", func() bool {
		for _, sn := range sns {
			if sn.MemberCount() < len(sns) {
				return false
			}
		}
		return true
	})
	lc := inproc.LeafConfig([]peer.AddrInfo{sns[0].AddrInfo()})
	lc.Backups = 0 // every heartbeat counted is the primary's
	a := inproc.StartLeaf(t, lc)
	primary := a.Primary()
	if primary != sns[0].Host().ID() {
		t.Fatalf("primary %s, want the only supernode known, %s", primary, sns[0].Host().ID())
	}
	heartbeats := func() uint64 { return a.Traffic()["leaf/heartbeat"].MsgsIn }

	// A record first, for the parallel lookup.
	known := inproc.CID(t, "known")
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if _, err := a.Announce(ctx, []cid.Cid{known}); err != nil {
		t.Fatal(err)
	}

	before, start := heartbeats(), time.Now()
	done := make(chan error, 1)
	go func() {
		_, err := a.Announce(ctx, []cid.Cid{inproc.CID(t, "slow-1"), inproc.CID(t, "slow-2")})
		done <- err
	}()
	lookupStart := time.Now()
	got, err := a.Lookup(ctx, known, 0)
	lookupTook := time.Since(lookupStart)
	if err != nil || len(got) != 1 || got[0].ID != a.Host().ID() {
		t.Fatalf("lookup during the slow announce: %v %v", got, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("announce: %v", err)
	}
	took := time.Since(start)
	beats := heartbeats() - before
	t.Logf("announce took %s (replicate timeout %s, %d stores swallowed); %d heartbeats answered meanwhile; a parallel lookup took %s",
		took.Round(time.Millisecond), cfg.ReplicateTimeout, hang.swallowed.Load(), beats, lookupTook.Round(time.Millisecond))
	if hang.swallowed.Load() == 0 || took < cfg.ReplicateTimeout/2 {
		t.Fatalf("announce took %s, %d stores swallowed: the hanging replica was not asked (test is void)", took, hang.swallowed.Load())
	}
	// The supernodes ask for 1 s heartbeats: at least one per full interval
	// of the announce.
	if want := uint64(took/cfg.HeartbeatInterval) - 1; beats < want {
		t.Fatalf("%d heartbeats answered during a %s announce, want ≥ %d", beats, took, want)
	}
	if lookupTook > time.Second {
		t.Fatalf("a lookup took %s behind the slow announce, want < 1s", lookupTook)
	}
	if a.Primary() != primary || a.Failovers() != 0 {
		t.Fatalf("primary %s after %d failovers, want %s kept", a.Primary(), a.Failovers(), primary)
	}
}
