package supernode_test

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/attack"
	"github.com/supertracker/supertracker/testnet/inproc"
)

// What a stock kad-dht peer is told (issue 14): GET_PROVIDERS to any
// supernode answers what our own lookups answer, never a record only a
// supernode outside the key's replica set holds, and only the addresses
// the holder signed.

func kadProviders(t *testing.T, sn *supernode.Node, c cid.Cid) []peer.AddrInfo {
	t.Helper()
	got, err := attack.KadGetProviders(t.Context(), inproc.NewHost(t), sn.AddrInfo(), c.Hash())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEverySupernodeAnswersStockClients(t *testing.T) {
	sns, _, l := startWithLeaf(t, 5, 2)
	c := inproc.CID(t, "every-supernode")
	if _, err := l.Announce(t.Context(), []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	for i, sn := range sns {
		if got := kadProviders(t, sn, c); !holderSet(got)[l.Host().ID()] {
			t.Fatalf("supernode %d answered GET_PROVIDERS with %v, not the holder", i, got)
		}
	}
}

// A leaf withdraws; an attacker that captured its announcement from a
// lookup answer replays it, with a supernode session of its own making, to
// every supernode. The replicas hold the withdrawal and refuse it; a
// supernode outside the replica set (within the 2r window a replica store
// is accepted in) stores it, and must not serve it to stock clients.
func TestStockClientsNeverSeeAReplayedWithdrawnRecord(t *testing.T) {
	sns, infos, victim := startWithLeaf(t, 5, 2)
	c := inproc.CID(t, "withdrawn-replayed")
	if _, err := victim.Announce(t.Context(), []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	h := inproc.NewHost(t)
	lc, err := attack.DialLeaf(t.Context(), h, infos[1])
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if _, err := lc.Attach(); err != nil {
		t.Fatal(err)
	}
	hs, err := lc.Lookup(c)
	if err != nil || len(hs) != 1 {
		t.Fatalf("capturing the announcement: %v %v", hs, err)
	}
	captured := hs[0]
	if _, err := victim.Withdraw(t.Context(), []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	replayedOn := 0
	for _, ai := range infos {
		pc, err := attack.DialPeer(t.Context(), h, ai)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := pc.Hello(h); err != nil || resp.Status != pb.Status_OK {
			t.Fatalf("hello: %v %v", err, resp.GetError())
		}
		resp, err := pc.Store(captured.Announcement, []*pb.StoreEntry{{Cid: captured.Cid, Index: captured.Index, Proof: captured.Proof}})
		pc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rc, err := protocol.DefaultLimits.OpenReceipt(resp.GetStore().GetReceipt()); err == nil && len(rc.Indices) > 0 {
			replayedOn++
		}
	}
	if replayedOn == 0 {
		t.Log("no supernode stored the replay (none in the 2r window)")
	}
	for i, sn := range sns {
		if got := kadProviders(t, sn, c); holderSet(got)[victim.Host().ID()] {
			t.Errorf("supernode %d serves the withdrawn record to stock clients (replay stored on %d)", i, replayedOn)
		}
		if got, err := sn.Lookup(t.Context(), c, 0); err != nil || len(got) != 0 {
			t.Errorf("supernode %d Lookup: %v %v", i, got, err)
		}
	}
}

// Leaves tell supernodes which other supernodes they know; an attacker
// names a real leaf there, at an address of its choosing. Stock kad-dht
// answers GET_PROVIDERS with the peerstore's addresses of a provider: the
// planted address must not reach a stock client.
func TestStockClientsGetOnlySignedAddresses(t *testing.T) {
	sns, infos, victim := startWithLeaf(t, 3, 2, noBackups)
	c := inproc.CID(t, "planted-address")
	if _, err := victim.Announce(t.Context(), []cid.Cid{c}); err != nil {
		t.Fatal(err)
	}
	h := inproc.NewHost(t)
	planted := plantAddress(t, h, infos, victim.Host().ID())
	hasPlanted := func(ai peer.AddrInfo) bool {
		for _, a := range ai.Addrs {
			if a.Equal(planted) {
				return true
			}
		}
		return false
	}
	inproc.WaitFor(t, 5*time.Second, "the gossip to reach a peerstore", func() bool {
		for _, sn := range sns {
			if hasPlanted(sn.Host().Peerstore().PeerInfo(victim.Host().ID())) {
				return true
			}
		}
		return false
	})
	for i, sn := range sns {
		found := false
		for _, ai := range kadProviders(t, sn, c) {
			if ai.ID != victim.Host().ID() {
				continue
			}
			found = true
			if hasPlanted(ai) {
				t.Errorf("supernode %d hands stock clients the planted address: %v", i, ai.Addrs)
			}
			if len(ai.Addrs) == 0 {
				t.Errorf("supernode %d gives the holder without addresses", i)
			}
		}
		if !found {
			t.Errorf("supernode %d does not name the holder", i)
		}
	}
}

// The same planted address must not stay in any supernode's peerstore once
// the supernode found the named peer is no supernode: kad-dht hands a
// peer's peerstore addresses to anyone who sends FIND_NODE for it.
func TestPlantedAddressesDoNotStick(t *testing.T) {
	sns, infos, victim := startWithLeaf(t, 3, inproc.SupernodeConfig().ReplicationFactor, noBackups)
	h := inproc.NewHost(t)
	planted := plantAddress(t, h, infos, victim.Host().ID())
	inPeerstores := func() bool {
		for _, sn := range sns {
			for _, a := range sn.Host().Peerstore().Addrs(victim.Host().ID()) {
				if a.Equal(planted) {
					return true
				}
			}
		}
		return false
	}
	inproc.WaitFor(t, 5*time.Second, "the planted address to reach a peerstore", inPeerstores)
	// A supernode tries the named peer for at most 10 s (Connect's bound).
	inproc.WaitFor(t, 15*time.Second, "planted addresses to leave every peerstore", func() bool { return !inPeerstores() })
	for i, sn := range sns {
		addrs, err := attack.KadFindPeer(t.Context(), h, sn.AddrInfo(), victim.Host().ID())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range addrs {
			if a.Equal(planted) {
				t.Errorf("supernode %d answers FIND_NODE for the leaf with the planted address", i)
			}
		}
	}
}

// stallingAddr is a loopback TCP address that accepts connections and
// never answers, so a dial to it lasts until its deadline: a planted
// address stays in the dialling supernode's peerstore for the whole
// attempt, as one at an unreachable Internet address would, and nothing
// leaves the machine.
func stallingAddr(t *testing.T) ma.Multiaddr {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed at cleanup
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	a, err := manet.FromNetAddr(l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// plantAddress has h, a hostile leaf, attach to every supernode of infos
// and report victim as a supernode at a planted address; it returns that
// address.
func plantAddress(t *testing.T, h host.Host, infos []peer.AddrInfo, victim peer.ID) ma.Multiaddr {
	t.Helper()
	planted := stallingAddr(t)
	for _, ai := range infos {
		lc, err := attack.DialLeaf(t.Context(), h, ai)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lc.Attach(protocol.DefaultLimits.PeerToPB(peer.AddrInfo{ID: victim, Addrs: []ma.Multiaddr{planted}})); err != nil {
			t.Fatal(err)
		}
		lc.Close()
	}
	return planted
}
