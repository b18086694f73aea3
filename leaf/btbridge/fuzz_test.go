package btbridge

import (
	"net/netip"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// testBridge is a Bridge without agent or host, holding clients for two
// torrents (more than MaxBTPeers of them for the first), enough for the
// serving side of the bt-peers protocol.
func testBridge(t testing.TB) (*Bridge, bttracker.InfoHash, bttracker.InfoHash) {
	t.Helper()
	cfg, err := Config{ExternalIP: netip.MustParseAddr("192.0.2.7")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	b := &Bridge{cfg: cfg, torrents: map[bttracker.InfoHash]*torrent{}, self: "self-leaf", done: newCompletions("self-leaf", 100)}
	big, small := bttracker.InfoHash{1}, bttracker.InfoHash{2}
	tb, ts := b.newTorrent(big), b.newTorrent(small)
	for i := range 300 {
		tb.clients[bttracker.PeerID{byte(i), byte(i >> 8)}] = &client{
			addr:    netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(1000+i)),
			seeder:  i%3 == 0,
			expires: now.Add(time.Minute),
		}
	}
	ts.clients[bttracker.PeerID{9}] = &client{addr: netip.MustParseAddrPort("127.0.0.1:6881"), expires: now.Add(time.Minute)}
	ts.clients[bttracker.PeerID{8}] = &client{addr: netip.MustParseAddrPort("[2001:db8::1]:6882"), expires: now.Add(-time.Second)}
	for range 3 {
		b.done.addOwn(small, now)
	}
	b.torrents[big], b.torrents[small] = tb, ts
	return b, big, small
}

func TestServeRequest(t *testing.T) {
	b, big, small := testBridge(t)
	lim := protocol.DefaultLimits
	resp := b.serveRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{small[:], big[:], make([]byte, 20)}, Limit: 200, Seeder: true}, "")
	if err := lim.ValidateBTPeersResponse(resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Swarms) != 2 {
		t.Fatalf("%d swarms, want 2 (the unknown infohash left out)", len(resp.Swarms))
	}
	s, l := resp.Swarms[0], resp.Swarms[1]
	if s.Seeders != 0 || s.Leechers != 1 || s.Downloaded != 3 || len(s.Peers) != 1 {
		t.Fatalf("small swarm: %v (the expired client must not count)", s)
	}
	if ip, _ := netip.AddrFromSlice(s.Peers[0].Ip); ip != b.cfg.ExternalIP {
		t.Fatalf("loopback client reported as %v, want ExternalIP %v", ip, b.cfg.ExternalIP)
	}
	if l.Seeders != 100 || l.Leechers != 200 || len(l.Peers) != protocol.MaxBTPeers-1 {
		t.Fatalf("big swarm: %d seeders %d leechers %d peers", l.Seeders, l.Leechers, len(l.Peers))
	}
	for _, p := range l.Peers {
		if p.Seeder {
			t.Fatal("a seeder asked and got seeders while leechers were left")
		}
	}
	resp = b.serveRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{big[:]}, Limit: 0}, "")
	if len(resp.Swarms) != 1 || len(resp.Swarms[0].Peers) != 0 || resp.Swarms[0].Seeders != 100 {
		t.Fatalf("counts-only request: %v", resp)
	}
}

func TestPeerFromPB(t *testing.T) {
	loop := &pb.BTPeer{Ip: []byte{127, 0, 0, 5}, Port: 7}
	pub := netip.MustParseAddr("203.0.113.9")
	for _, tc := range []struct {
		p    *pb.BTPeer
		via  netip.Addr
		want string
	}{
		{loop, pub, "203.0.113.9:7"},                            // desktop: the holder's address
		{loop, netip.MustParseAddr("127.0.0.9"), "127.0.0.5:7"}, // loopback testnet: kept
		{loop, netip.Addr{}, "127.0.0.5:7"},
		{&pb.BTPeer{Ip: []byte{0, 0, 0, 0}, Port: 8}, pub, "203.0.113.9:8"},
		{&pb.BTPeer{Ip: []byte{198, 51, 100, 1}, Port: 9}, pub, "198.51.100.1:9"}, // routable: kept
		{&pb.BTPeer{Ip: netip.MustParseAddr("::ffff:10.1.2.3").AsSlice(), Port: 10}, pub, "10.1.2.3:10"},
	} {
		if got := peerFromPB(tc.p, tc.via); got.addr.String() != tc.want {
			t.Errorf("peerFromPB(%v, %v) = %v, want %s", tc.p, tc.via, got.addr, tc.want)
		}
	}
}

func TestPickPeers(t *testing.T) {
	me := bttracker.PeerID{1}
	self := netip.MustParseAddrPort("127.0.0.2:1")
	mk := func(s string, seeder bool, id byte) btPeer {
		return btPeer{addr: netip.MustParseAddrPort(s), seeder: seeder, id: bttracker.PeerID{id}, hasID: id != 0}
	}
	all := []btPeer{
		mk("127.0.0.2:1", false, 0), // my address
		mk("127.0.0.9:9", false, 1), // my peer ID elsewhere
		mk("127.0.0.3:3", true, 3),  // a seeder
		mk("127.0.0.4:4", false, 4), // a leecher
		mk("127.0.0.4:4", false, 5), // same address again
		mk("0.0.0.0:5", false, 6),   // unusable
		mk("127.0.0.6:0", false, 7), // no port
		mk("127.0.0.7:7", false, 0), // a leecher without ID
	}
	if got := pickPeers(all, 50, false, me, self); len(got) != 3 {
		t.Fatalf("leecher got %v, want the seeder and two leechers", got)
	}
	if got := pickPeers(all, 50, true, me, self); len(got) != 2 {
		t.Fatalf("seeder got %v, want the two leechers", got)
	}
	if got := pickPeers(all, 1, false, me, self); len(got) != 1 {
		t.Fatalf("numwant 1: got %v", got)
	}
	if got := pickPeers(all, 0, false, me, self); len(got) != 0 {
		t.Fatalf("numwant 0: got %v", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Interval != 15*time.Minute || c.MinInterval != 450*time.Second || c.PeerTimeout != 22*time.Minute+30*time.Second {
		t.Fatalf("defaults: interval %s min %s timeout %s", c.Interval, c.MinInterval, c.PeerTimeout)
	}
	if c, _ := (Config{RecordTTL: 24 * time.Hour}).withDefaults(); c.Interval != 30*time.Minute {
		t.Fatalf("interval for a long TTL: %s, want the 30 min cap", c.Interval)
	}
	if c, _ := (Config{RecordTTL: time.Minute}).withDefaults(); c.Interval != time.Minute {
		t.Fatalf("interval for a short TTL: %s, want the 1 min floor", c.Interval)
	}
	for name, bad := range map[string]Config{
		"interval":    {Interval: time.Millisecond},
		"min > int":   {Interval: time.Minute, MinInterval: time.Hour},
		"timeout":     {Interval: time.Minute, PeerTimeout: time.Second},
		"external ip": {ExternalIP: netip.MustParseAddr("127.0.0.1")},
		"holders":     {MaxHolders: -1},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzBTPeersRequest: any bytes are refused or accepted within the
// protocol bounds, and the answer to an accepted request is itself a valid
// response.
func FuzzBTPeersRequest(f *testing.F) {
	big, small := bttracker.InfoHash{1}, bttracker.InfoHash{2}
	for _, m := range []*pb.BTPeersRequest{
		{InfoHashes: [][]byte{big[:]}, Limit: 50},
		{InfoHashes: [][]byte{small[:], big[:]}, Limit: 0, Seeder: true},
		{InfoHashes: [][]byte{big[:], big[:]}},
		{InfoHashes: [][]byte{[]byte("short")}, Limit: 1},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	b, _, _ := testBridge(f)
	lim := protocol.DefaultLimits
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := lim.DecodeBTPeersRequest(data)
		resp := b.serveFrame(data, "")
		if err != nil {
			if resp.Error == "" || len(resp.Swarms) != 0 {
				t.Fatalf("refused request %q answered without error: %v", data, resp)
			}
			return
		}
		if n := len(req.InfoHashes); n == 0 || n > protocol.MaxBTInfoHashes || req.Limit > protocol.MaxBTPeers {
			t.Fatalf("accepted a request out of bounds: %d infohashes, limit %d", n, req.Limit)
		}
		if err := lim.ValidateBTPeersResponse(resp); err != nil {
			t.Fatalf("invalid answer to %v: %v", req, err)
		}
		out, err := proto.Marshal(resp)
		if err != nil || len(out) > lim.MaxMessageSize {
			t.Fatalf("answer does not fit a frame: %d bytes, %v", len(out), err)
		}
	})
}

// FuzzBTPeersResponse: any bytes are refused or accepted within bounds, and
// every accepted peer converts to a usable address.
func FuzzBTPeersResponse(f *testing.F) {
	b, big, _ := testBridge(f)
	good, _ := proto.Marshal(b.serveRequest(&pb.BTPeersRequest{InfoHashes: [][]byte{big[:]}, Limit: 5}, ""))
	f.Add(good)
	bad, _ := proto.Marshal(&pb.BTPeersResponse{Swarms: []*pb.BTSwarm{{InfoHash: big[:], Peers: []*pb.BTPeer{{Ip: []byte{1, 2, 3}, Port: 70000}}}}})
	f.Add(bad)
	errResp, _ := proto.Marshal(&pb.BTPeersResponse{Error: "no"})
	f.Add(errResp)
	lim := protocol.DefaultLimits
	via := netip.MustParseAddr("203.0.113.1")
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := lim.DecodeBTPeersResponse(data)
		if err != nil {
			return
		}
		if len(resp.Swarms) > protocol.MaxBTInfoHashes || len(resp.Error) > lim.MaxErrorSize {
			t.Fatalf("accepted a response out of bounds")
		}
		n := 0
		for _, s := range resp.Swarms {
			if len(s.InfoHash) != protocol.BTInfoHashSize {
				t.Fatalf("accepted an infohash of %d bytes", len(s.InfoHash))
			}
			for _, p := range s.Peers {
				n++
				bp := peerFromPB(p, via)
				if !bp.addr.Addr().IsValid() || bp.addr.Port() == 0 {
					t.Fatalf("accepted peer %v converts to %v", p, bp.addr)
				}
			}
		}
		if n > protocol.MaxBTPeers {
			t.Fatalf("accepted %d peers", n)
		}
	})
}
