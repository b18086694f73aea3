package leaf_test

import (
	"context"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// Acceptance (issue 13, point 2), in process on real supernodes and the
// wall clock: one replica that never answers makes the primary wait for its
// replicate timeout, so the announce is slow; the leaf keeps its primary
// and its heartbeats keep flowing meanwhile, and a lookup in parallel is
// answered at once.
func TestHangingReplicaKeepsPrimaryAndHeartbeats(t *testing.T) {
	cfg := inproc.SupernodeConfig()
	cfg.ReplicateTimeout = 3 * time.Second
	sns := inproc.StartSupernodes(t, 3, cfg)
	// sns[2] reads replication requests and never answers.
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	sns[2].Host().SetStreamHandler(protocol.ReplicateProtocol, func(s network.Stream) {
		defer s.Reset()
		select {
		case <-stop:
		case <-t.Context().Done():
		}
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
	t.Logf("announce took %s (replicate timeout %s); %d heartbeats answered meanwhile; a parallel lookup took %s",
		took.Round(time.Millisecond), cfg.ReplicateTimeout, beats, lookupTook.Round(time.Millisecond))
	if took < cfg.ReplicateTimeout/2 {
		t.Fatalf("announce took %s: the hanging replica was not asked (test is void)", took)
	}
	// Heartbeats every second (the supernodes ask 1 s): at least one per
	// full interval of the announce.
	if min := uint64(took/cfg.HeartbeatInterval) - 1; beats < min {
		t.Fatalf("%d heartbeats answered during a %s announce, want ≥ %d", beats, took, min)
	}
	if lookupTook > time.Second {
		t.Fatalf("a lookup took %s behind the slow announce, want < 1s", lookupTook)
	}
	if a.Primary() != primary || a.Failovers() != 0 {
		t.Fatalf("primary %s after %d failovers, want %s kept", a.Primary(), a.Failovers(), primary)
	}
}
