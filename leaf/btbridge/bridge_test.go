package btbridge_test

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/testnet/inproc"
)

func hasCID(a *leaf.Agent, c cid.Cid) bool { return slices.Contains(a.Objects(), c) }

func holds(t testing.TB, a *leaf.Agent, c cid.Cid, who peer.ID) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs, err := a.Lookup(ctx, c, 0)
	if err != nil {
		t.Fatalf("lookup: %v", err)
	}
	return slices.ContainsFunc(hs, func(ai peer.AddrInfo) bool { return ai.ID == who })
}

// Four supernodes, leaves attached to different ones, a bridge on each.
func TestBridge(t *testing.T) {
	sns := startSupernodes(t, 4)
	la, lb := startLeaf(t, sns[0]), startLeaf(t, sns[2])
	ta, tb := startBridge(t, la, btbridge.Config{}), startBridge(t, lb, btbridge.Config{})
	a := newClient(t, "A", "127.0.0.2", 6001)
	b := newClient(t, "B", "127.0.0.3", 6002)

	t.Run("AcrossLeaves", func(t *testing.T) {
		ih := infoHash("across")
		d := a.announce(t, ta, ih, 100, "started", nil)
		if ps := compactPeers(t, d); len(ps) != 0 {
			t.Fatalf("first client got peers %v", ps)
		}
		if c, i := counts(d); c != 0 || i != 1 {
			t.Fatalf("complete/incomplete = %d/%d, want 0/1", c, i)
		}
		if d["interval"] != int64(15*60) || d["min interval"] != int64(15*30) {
			t.Fatalf("interval %v, min interval %v: want 900 and 450 (a third of the 45 min TTL)", d["interval"], d["min interval"])
		}
		if !hasCID(la, bttracker.InfoHashToCID(ih)) {
			t.Fatal("leaf A does not announce the torrent's CID")
		}
		if !holds(t, lb, bttracker.InfoHashToCID(ih), la.Host().ID()) {
			t.Fatal("leaf B's overlay lookup does not return leaf A")
		}

		d = b.announce(t, tb, ih, 100, "started", nil)
		ps := compactPeers(t, d)
		if !contains(ps, a.addr()) || contains(ps, b.addr()) || len(ps) != 1 {
			t.Fatalf("B got %v, want exactly A %v", ps, a.addr())
		}
		if c, i := counts(d); c != 0 || i != 2 {
			t.Fatalf("complete/incomplete = %d/%d, want 0/2", c, i)
		}

		ps = compactPeers(t, a.announce(t, ta, ih, 50, "", nil))
		if !slices.Equal(ps, []netip.AddrPort{b.addr()}) {
			t.Fatalf("A's re-announce got %v, want B %v", ps, b.addr())
		}
	})

	t.Run("UDP", func(t *testing.T) {
		ih := infoHash("across") // A and B are in this swarm
		c := newClient(t, "C", "127.0.0.4", 6003)
		interval, leechers, seeders, ps := udpAnnounce(t, tb, c, ih, 100)
		if interval != 900 || leechers != 3 || seeders != 0 {
			t.Fatalf("UDP announce: interval %d leechers %d seeders %d", interval, leechers, seeders)
		}
		slices.SortFunc(ps, netip.AddrPort.Compare)
		if want := []netip.AddrPort{a.addr(), b.addr()}; !slices.Equal(ps, want) {
			t.Fatalf("UDP peers %v, want %v", ps, want)
		}
	})

	t.Run("CompletedAndScrape", func(t *testing.T) {
		ih := infoHash("completed")
		compactPeers(t, a.announce(t, ta, ih, 100, "started", nil))
		compactPeers(t, b.announce(t, tb, ih, 100, "started", nil))
		if c, i, dl := b.scrape(t, tb, ih); c != 0 || i != 2 || dl != 0 {
			t.Fatalf("scrape before completion: %d/%d/%d, want 0/2/0", c, i, dl)
		}
		compactPeers(t, a.announce(t, ta, ih, 0, "completed", nil))
		if c, i := counts(b.announce(t, tb, ih, 100, "", nil)); c != 1 || i != 1 {
			t.Fatalf("after A completed: complete/incomplete = %d/%d, want 1/1", c, i)
		}
		for _, tr := range []*tracker{ta, tb} {
			if c, i, dl := b.scrape(t, tr, ih); c != 1 || i != 1 || dl != 1 {
				t.Fatalf("scrape at %s after completion: %d/%d/%d, want 1/1/1", tr.addr, c, i, dl)
			}
		}
		if c, i, dl := b.scrape(t, tb, infoHash("unknown")); c != 0 || i != 0 || dl != 0 {
			t.Fatalf("scrape of an unknown torrent: %d/%d/%d", c, i, dl)
		}
	})

	t.Run("NumWant", func(t *testing.T) {
		ih := infoHash("numwant")
		var many []netip.AddrPort
		for i := range 6 {
			c := newClient(t, "N"+string(rune('0'+i)), "127.0.1."+string(rune('1'+i)), uint16(7000+i))
			compactPeers(t, c.announce(t, ta, ih, 100, "started", nil))
			many = append(many, c.addr())
		}
		for _, tc := range []struct {
			numwant string
			want    int
		}{{"2", 2}, {"0", 0}, {"", 6}, {"1000", 6}} {
			extra := url.Values{}
			if tc.numwant != "" {
				extra.Set("numwant", tc.numwant)
			}
			d := b.announce(t, tb, ih, 100, "", extra)
			ps := compactPeers(t, d)
			if len(ps) != tc.want {
				t.Fatalf("numwant=%q: got %d peers, want %d", tc.numwant, len(ps), tc.want)
			}
			for _, p := range ps {
				if !contains(many, p) {
					t.Fatalf("numwant=%q: unexpected peer %v", tc.numwant, p)
				}
			}
			if c, i := counts(d); c != 0 || i != 7 {
				t.Fatalf("numwant=%q: complete/incomplete = %d/%d, want 0/7", tc.numwant, c, i)
			}
		}
	})

	t.Run("SeederGetsLeechers", func(t *testing.T) {
		ih := infoHash("seeder")
		c := newClient(t, "C", "127.0.0.4", 6003)
		compactPeers(t, a.announce(t, ta, ih, 0, "started", nil))
		compactPeers(t, c.announce(t, ta, ih, 10, "started", nil))
		d := b.announce(t, tb, ih, 0, "started", url.Values{"compact": {"0"}})
		list, _ := d["peers"].([]any)
		if len(list) != 1 {
			t.Fatalf("seeder B got %v, want only leecher C", d["peers"])
		}
		e := list[0].(map[string]any)
		if e["ip"] != "127.0.0.4" || e["port"] != int64(6003) || e["peer id"] != string(c.id[:]) {
			t.Fatalf("seeder B got %v, want C", e)
		}
		if cc, i := counts(d); cc != 2 || i != 1 {
			t.Fatalf("complete/incomplete = %d/%d, want 2/1", cc, i)
		}
	})

	t.Run("StoppedWithdraws", func(t *testing.T) {
		ih := infoHash("stopped")
		c := bttracker.InfoHashToCID(ih)
		compactPeers(t, a.announce(t, ta, ih, 100, "started", nil))
		if ps := compactPeers(t, b.announce(t, tb, ih, 100, "started", nil)); !contains(ps, a.addr()) {
			t.Fatalf("B got %v, want A", ps)
		}
		a.announce(t, ta, ih, 100, "stopped", nil)
		if hasCID(la, c) {
			t.Fatal("leaf A still announces the torrent after its last client stopped")
		}
		if ps := compactPeers(t, b.announce(t, tb, ih, 100, "", nil)); len(ps) != 0 {
			t.Fatalf("B still gets %v after A stopped", ps)
		}
		waitFor(t, 10*time.Second, "the withdrawal to reach B's supernode", func() bool {
			return !holds(t, lb, c, la.Host().ID())
		})
		// B is still registered: its own leaf keeps the CID.
		if !hasCID(lb, c) {
			t.Fatal("leaf B lost the torrent")
		}
	})

	t.Run("Malformed", func(t *testing.T) {
		ih := infoHash("malformed")
		for _, tc := range []struct {
			name   string
			extra  url.Values
			reason string
		}{
			{"short infohash", url.Values{"info_hash": {"abc"}}, "info_hash must be 20 bytes"},
			{"no port", url.Values{"port": {"0"}}, "invalid port"},
			{"bad event", url.Values{"event": {"bogus"}}, "invalid event"},
			{"bad left", url.Values{"left": {"-1"}}, "invalid left"},
		} {
			d := a.announce(t, ta, ih, 1, "", tc.extra)
			if d["failure reason"] != tc.reason || len(d) != 1 {
				t.Errorf("%s: got %v, want failure reason %q", tc.name, d, tc.reason)
			}
		}
		d := a.get(t, "http://"+ta.addr.String()+"/announce?peer_id=x")
		if d["failure reason"] != "missing info_hash" {
			t.Errorf("missing info_hash: got %v", d)
		}
		if ta.br.Stats().Clients != 0 && hasCID(la, bttracker.InfoHashToCID(ih)) {
			t.Error("a malformed announce registered something")
		}
	})

	t.Run("PeersProtocol", func(t *testing.T) {
		ih := infoHash("protocol")
		compactPeers(t, a.announce(t, ta, ih, 100, "started", nil))
		h := inproc.NewHost(t)
		h.Peerstore().AddAddrs(la.Host().ID(), la.Host().Addrs(), time.Minute)
		lim := protocol.DefaultLimits
		ask := func(frame []byte) (*pb.BTPeersResponse, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := h.NewStream(ctx, la.Host().ID(), protocol.BTPeersProtocol)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := s.Write(frame); err != nil {
				return nil, err
			}
			f, err := lim.NewReader(s).ReadFrame()
			if err != nil {
				return nil, err
			}
			return lim.DecodeBTPeersResponse(f)
		}
		frame := func(m proto.Message) []byte {
			var sb strings.Builder
			if err := protocol.WriteMsg(&sb, m); err != nil {
				t.Fatal(err)
			}
			return []byte(sb.String())
		}
		other := infoHash("nobody")
		resp, err := ask(frame(&pb.BTPeersRequest{InfoHashes: [][]byte{ih[:], other[:]}, Limit: 10}))
		if err != nil || resp.Error != "" || len(resp.Swarms) != 1 || len(resp.Swarms[0].Peers) != 1 {
			t.Fatalf("valid request: %v, %v", resp, err)
		}
		p := resp.Swarms[0].Peers[0]
		if netip.AddrFrom4([4]byte(p.Ip)) != a.ip || p.Port != uint32(a.port) || p.Seeder || string(p.PeerId) != string(a.id[:]) {
			t.Fatalf("peer %v, want A", p)
		}
		for name, bad := range map[string][]byte{
			"garbage":        {3, 0xff, 0xff, 0xff},
			"short infohash": frame(&pb.BTPeersRequest{InfoHashes: [][]byte{[]byte("short")}}),
			"over limit":     frame(&pb.BTPeersRequest{InfoHashes: [][]byte{ih[:]}, Limit: 1000}),
			"empty":          frame(&pb.BTPeersRequest{}),
		} {
			resp, err := ask(bad)
			if err != nil || resp.Error == "" {
				t.Errorf("%s: got %v, %v; want an error response", name, resp, err)
			}
		}
		// A frame over the size limit is refused before it is read.
		big := binary.AppendUvarint(nil, uint64(lim.MaxMessageSize+1))
		if resp, err := ask(big); err == nil && resp.Error == "" {
			t.Errorf("oversized frame accepted: %v", resp)
		}
	})

	t.Run("ExpiryAndClose", func(t *testing.T) {
		lc := startLeaf(t, sns[1])
		tc := startBridge(t, lc, btbridge.Config{Interval: time.Second, PeerTimeout: time.Second, SweepInterval: 50 * time.Millisecond})
		ih := infoHash("expiry")
		c := bttracker.InfoHashToCID(ih)
		d := a.announce(t, tc, ih, 100, "started", nil)
		if d["interval"] != int64(1) || d["min interval"] != int64(1) {
			t.Fatalf("interval %v / %v, want 1 / 1", d["interval"], d["min interval"])
		}
		if !hasCID(lc, c) {
			t.Fatal("not announced")
		}
		start := time.Now()
		waitFor(t, 10*time.Second, "the silent client to expire and the torrent to be withdrawn", func() bool {
			return !hasCID(lc, c) && tc.br.Stats() == btbridge.Stats{}
		})
		if el := time.Since(start); el < 900*time.Millisecond {
			t.Fatalf("client expired after %s, before PeerTimeout", el)
		}

		compactPeers(t, a.announce(t, tc, ih, 100, "started", nil))
		if !hasCID(lc, c) {
			t.Fatal("not announced again")
		}
		if err := tc.br.Close(); err != nil {
			t.Fatal(err)
		}
		if hasCID(lc, c) {
			t.Fatal("Close did not withdraw the torrent")
		}
		if _, err := tc.br.Announce(context.Background(), bttracker.AnnounceRequest{}); !errors.Is(err, bttracker.ErrUnavailable) {
			t.Fatalf("announce after Close: %v", err)
		}
	})

	t.Run("StaleWithdrawnAtStart", func(t *testing.T) {
		ld := startLeaf(t, sns[3])
		stale := bttracker.InfoHashToCID(infoHash("stale"))
		sum, _ := mh.Sum([]byte("not a torrent"), mh.SHA2_256, -1)
		other := cid.NewCidV1(cid.Raw, sum)
		if _, err := ld.Announce(t.Context(), []cid.Cid{stale, other}); err != nil {
			t.Fatal(err)
		}
		startBridge(t, ld, btbridge.Config{})
		waitFor(t, 10*time.Second, "the stale torrent to be withdrawn", func() bool { return !hasCID(ld, stale) })
		if !hasCID(ld, other) {
			t.Fatal("a CID that is not a torrent was withdrawn")
		}
	})
}

// udpAnnounce runs a BEP 15 connect and announce from c.
func udpAnnounce(t testing.TB, tr *tracker, c *btClient, ih bttracker.InfoHash, left uint64) (interval, leechers, seeders uint32, peers []netip.AddrPort) {
	t.Helper()
	conn, err := net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(c.ip, 0)), net.UDPAddrFromAddrPort(tr.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	be := binary.BigEndian
	pkt := be.AppendUint64(nil, 0x41727101980)
	pkt = be.AppendUint32(pkt, 0)
	pkt = be.AppendUint32(pkt, 7)
	buf := make([]byte, 2048)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil || n < 16 || be.Uint32(buf) != 0 {
		t.Fatalf("UDP connect: %d bytes %x, %v", n, buf[:n], err)
	}
	connID := be.Uint64(buf[8:])
	pkt = be.AppendUint64(nil, connID)
	pkt = be.AppendUint32(pkt, 1)
	pkt = be.AppendUint32(pkt, 8)
	pkt = append(pkt, ih[:]...)
	pkt = append(pkt, c.id[:]...)
	pkt = be.AppendUint64(pkt, 0)    // downloaded
	pkt = be.AppendUint64(pkt, left) // left
	pkt = be.AppendUint64(pkt, 0)    // uploaded
	pkt = be.AppendUint32(pkt, 2)    // started
	pkt = be.AppendUint32(pkt, 0)    // ip: the sender's
	pkt = be.AppendUint32(pkt, 1)    // key
	pkt = be.AppendUint32(pkt, 0xffffffff)
	pkt = be.AppendUint16(pkt, c.port)
	if _, err := conn.Write(pkt); err != nil {
		t.Fatal(err)
	}
	n, err = conn.Read(buf)
	if err != nil || n < 20 || be.Uint32(buf) != 1 {
		t.Fatalf("UDP announce: %d bytes %q, %v", n, buf[:n], err)
	}
	for i := 20; i+6 <= n; i += 6 {
		peers = append(peers, netip.AddrPortFrom(netip.AddrFrom4([4]byte(buf[i:i+4])), be.Uint16(buf[i+4:])))
	}
	return be.Uint32(buf[8:]), be.Uint32(buf[12:]), be.Uint32(buf[16:]), peers
}
