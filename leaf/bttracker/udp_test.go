package bttracker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"
)

// udpClient talks BEP 15 to a server over a real loopback socket.
type udpClient struct {
	tb   testing.TB
	conn *net.UDPConn
	tid  uint32
}

func dialUDP(tb testing.TB, addr net.Addr) *udpClient {
	tb.Helper()
	c, err := net.DialUDP("udp", nil, addr.(*net.UDPAddr))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return &udpClient{tb: tb, conn: c, tid: 0x1000}
}

// roundTrip sends pkt and returns the reply to it. The read deadline only
// guards against a hung test; it is not synchronisation.
func (c *udpClient) roundTrip(pkt []byte) []byte {
	c.tb.Helper()
	if _, err := c.conn.Write(pkt); err != nil {
		c.tb.Fatal(err)
	}
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.conn.Read(buf)
	if err != nil {
		c.tb.Fatal(err)
	}
	return buf[:n]
}

func (c *udpClient) nextTID() uint32 { c.tid++; return c.tid }

func connectPacket(tid uint32) []byte {
	p := binary.BigEndian.AppendUint64(nil, udpProtocolID)
	p = binary.BigEndian.AppendUint32(p, actionConnect)
	return binary.BigEndian.AppendUint32(p, tid)
}

type udpAnnounce struct {
	connID                     uint64
	tid                        uint32
	hash                       InfoHash
	peer                       PeerID
	downloaded, left, uploaded uint64
	event                      uint32
	ip                         [4]byte
	key                        uint32
	numWant                    int32
	port                       uint16
}

func (a udpAnnounce) bytes() []byte {
	p := binary.BigEndian.AppendUint64(nil, a.connID)
	p = binary.BigEndian.AppendUint32(p, actionAnnounce)
	p = binary.BigEndian.AppendUint32(p, a.tid)
	p = append(p, a.hash[:]...)
	p = append(p, a.peer[:]...)
	p = binary.BigEndian.AppendUint64(p, a.downloaded)
	p = binary.BigEndian.AppendUint64(p, a.left)
	p = binary.BigEndian.AppendUint64(p, a.uploaded)
	p = binary.BigEndian.AppendUint32(p, a.event)
	p = append(p, a.ip[:]...)
	p = binary.BigEndian.AppendUint32(p, a.key)
	p = binary.BigEndian.AppendUint32(p, uint32(a.numWant))
	return binary.BigEndian.AppendUint16(p, a.port)
}

func scrapePacket(connID uint64, tid uint32, hs ...InfoHash) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, actionScrape)
	p = binary.BigEndian.AppendUint32(p, tid)
	for _, h := range hs {
		p = append(p, h[:]...)
	}
	return p
}

// wantError checks resp is an error packet for tid and returns its message.
func wantError(tb testing.TB, resp []byte, tid uint32) string {
	tb.Helper()
	if len(resp) < 8 || binary.BigEndian.Uint32(resp[0:4]) != actionError || binary.BigEndian.Uint32(resp[4:8]) != tid {
		tb.Fatalf("want error packet for tid %d, got %x", tid, resp)
	}
	if len(resp) == 8 {
		tb.Error("error packet without message")
	}
	return string(resp[8:])
}

func wantHeader(tb testing.TB, resp []byte, action, tid uint32) {
	tb.Helper()
	if len(resp) < 8 || binary.BigEndian.Uint32(resp[0:4]) != action || binary.BigEndian.Uint32(resp[4:8]) != tid {
		tb.Fatalf("want action %d tid %d, got %x (%q)", action, tid, resp, resp)
	}
}

// startUDP runs a UDPServer on 127.0.0.1 and stops it at cleanup.
func startUDP(tb testing.TB, f *Frontend) *UDPServer {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := f.NewUDPServer(pc)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
		srv.Close()
	})
	return srv
}

func TestUDPExchange(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTracker{resp: AnnounceResponse{
		Interval: 5 * time.Minute, Complete: 7, Incomplete: 9, Peers: testPeers(),
	}}
	f := newFrontend(t, tr, Config{Now: clock.Now})
	srv := startUDP(t, f)
	c := dialUDP(t, srv.LocalAddr())

	// connect
	tid := c.nextTID()
	resp := c.roundTrip(connectPacket(tid))
	wantHeader(t, resp, actionConnect, tid)
	if len(resp) != 16 {
		t.Fatalf("connect response %d bytes", len(resp))
	}
	connID := binary.BigEndian.Uint64(resp[8:16])

	// announce
	tid = c.nextTID()
	a := udpAnnounce{connID: connID, tid: tid, hash: ih(3), peer: pid('Q'), downloaded: 10, left: 20,
		uploaded: 30, event: 2, key: 99, numWant: -1, port: 6881}
	resp = c.roundTrip(a.bytes())
	wantHeader(t, resp, actionAnnounce, tid)
	want := binary.BigEndian.AppendUint32(nil, 300) // interval
	want = binary.BigEndian.AppendUint32(want, 9)   // leechers
	want = binary.BigEndian.AppendUint32(want, 7)   // seeders
	want = append(want, "\x0a\x00\x00\x01\x1a\xe1"+"\xc0\xa8\x01\xc8\xff\xff"...)
	if !bytes.Equal(resp[8:], want) {
		t.Fatalf("announce response\n got %x\nwant %x", resp[8:], want)
	}
	got := tr.lastAnnounce(t)
	lo := netip.MustParseAddr("127.0.0.1")
	wantReq := AnnounceRequest{InfoHash: ih(3), PeerID: pid('Q'), IP: lo, RemoteIP: lo, Port: 6881,
		Uploaded: 30, Downloaded: 10, Left: 20, Event: EventStarted, NumWant: 50, Compact: true, NoPeerID: true}
	if got != wantReq {
		t.Fatalf("tracker saw\n %+v\nwant %+v", got, wantReq)
	}

	// announce with an IP field and BEP 41 options after the fixed part
	tid = c.nextTID()
	a.tid, a.ip, a.numWant, a.event = tid, [4]byte{10, 9, 8, 7}, 1, 3
	resp = c.roundTrip(append(a.bytes(), 2, 5, '/', 'a', 'n', 'n', 'o', 0))
	wantHeader(t, resp, actionAnnounce, tid)
	if len(resp) != 20+6 {
		t.Errorf("numwant=1: response %d bytes", len(resp))
	}
	if got := tr.lastAnnounce(t); got.IP != netip.MustParseAddr("10.9.8.7") || got.RemoteIP != lo ||
		got.NumWant != 1 || got.Event != EventStopped {
		t.Errorf("tracker saw %+v", got)
	}

	// scrape, with a duplicate
	tid = c.nextTID()
	resp = c.roundTrip(scrapePacket(connID, tid, ih(1), ih(40), ih(1)))
	wantHeader(t, resp, actionScrape, tid)
	want = nil
	for _, h := range []InfoHash{ih(1), ih(40), ih(1)} {
		want = binary.BigEndian.AppendUint32(want, uint32(h[0])) // seeders
		want = binary.BigEndian.AppendUint32(want, uint32(h[2])) // completed
		want = binary.BigEndian.AppendUint32(want, uint32(h[1])) // leechers
	}
	if !bytes.Equal(resp[8:], want) {
		t.Fatalf("scrape response\n got %x\nwant %x", resp[8:], want)
	}
}

func TestUDPErrors(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{Now: clock.Now})
	srv := startUDP(t, f)
	c := dialUDP(t, srv.LocalAddr())

	tid := c.nextTID()
	resp := c.roundTrip(connectPacket(tid))
	connID := binary.BigEndian.Uint64(resp[8:16])
	good := udpAnnounce{connID: connID, hash: ih(1), peer: pid('Q'), port: 1}

	check := func(name string, pkt []byte, tid uint32) {
		t.Helper()
		msg := wantError(t, c.roundTrip(pkt), tid)
		t.Logf("%s: %q", name, msg)
	}

	// Silently dropped: too short to carry a transaction ID. The reply
	// read next must belong to the following request.
	c.conn.Write([]byte{1, 2, 3})
	c.conn.Write(make([]byte, 15))

	tid = c.nextTID()
	bad := connectPacket(tid)
	bad[7] ^= 1
	check("bad protocol id", bad, tid)

	tid = c.nextTID()
	p := good
	p.tid, p.connID = tid, connID^1
	check("wrong connection id", p.bytes(), tid)

	tid = c.nextTID()
	check("wrong connection id (scrape)", scrapePacket(connID+1, tid, ih(1)), tid)

	tid = c.nextTID()
	p = good
	p.tid = tid
	check("truncated announce", p.bytes()[:97], tid)

	tid = c.nextTID()
	p.tid = tid
	check("header-only announce", p.bytes()[:16], tid)

	tid = c.nextTID()
	p.tid, p.event = tid, 4
	check("bad event", p.bytes(), tid)

	tid = c.nextTID()
	p = good
	p.tid, p.port = tid, 0
	check("zero port", p.bytes(), tid)

	tid = c.nextTID()
	check("empty scrape", scrapePacket(connID, tid), tid)

	tid = c.nextTID()
	check("ragged scrape", append(scrapePacket(connID, tid, ih(1)), 0), tid)

	tid = c.nextTID()
	many := make([]InfoHash, 75)
	check("too many hashes", scrapePacket(connID, tid, many...), tid)

	tid = c.nextTID()
	unk := connectPacket(tid)
	binary.BigEndian.PutUint32(unk[8:12], 7)
	check("unknown action", unk, tid)

	tid = c.nextTID()
	binary.BigEndian.PutUint32(unk[8:12], actionError)
	binary.BigEndian.PutUint32(unk[12:16], tid)
	check("error action from client", unk, tid)

	if n := tr.numAnnounces(); n != 0 {
		t.Errorf("tracker called %d times", n)
	}

	// Tracker errors become error packets.
	tr.mu.Lock()
	tr.err = ErrUnknownInfoHash
	tr.mu.Unlock()
	tid = c.nextTID()
	p = good
	p.tid = tid
	if msg := wantError(t, c.roundTrip(p.bytes()), tid); msg != "unregistered torrent" {
		t.Errorf("tracker error: %q", msg)
	}
	tr.mu.Lock()
	tr.scrapeErr = errors.New("secret")
	tr.mu.Unlock()
	tid = c.nextTID()
	if msg := wantError(t, c.roundTrip(scrapePacket(connID, tid, ih(1))), tid); msg != internalErrorText {
		t.Errorf("tracker error: %q", msg)
	}
}

func TestUDPConnectionIDExpiry(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{Now: clock.Now}) // TTL 2 min
	srv := startUDP(t, f)
	c := dialUDP(t, srv.LocalAddr())

	tid := c.nextTID()
	connID := binary.BigEndian.Uint64(c.roundTrip(connectPacket(tid))[8:16])
	ann := func() []byte {
		tid := c.nextTID()
		a := udpAnnounce{connID: connID, tid: tid, hash: ih(1), peer: pid('Q'), port: 1}
		return c.roundTrip(a.bytes())
	}
	clock.Advance(2 * time.Minute) // BEP 15: accept for two minutes
	wantHeader(t, ann(), actionAnnounce, c.tid)
	clock.Advance(31 * time.Second) // past TTL + TTL/4
	wantError(t, ann(), c.tid)

	// A fresh ID works again; a clock running backwards invalidates it.
	tid = c.nextTID()
	connID = binary.BigEndian.Uint64(c.roundTrip(connectPacket(tid))[8:16])
	wantHeader(t, ann(), actionAnnounce, c.tid)
	clock.Advance(-time.Minute)
	wantError(t, ann(), c.tid)
}

func TestConnIDs(t *testing.T) {
	c := connIDs{key: []byte("k"), window: 30 * time.Second}
	now := time.Unix(1_700_000_000, 0)
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	id := c.issue(a, now)
	if !c.valid(id, a, now) || !c.valid(id, a, now.Add(2*time.Minute)) {
		t.Fatal("fresh ID rejected")
	}
	if c.valid(id, b, now) {
		t.Error("ID valid for another IP")
	}
	if c.valid(id, a, now.Add(3*time.Minute)) {
		t.Error("ID valid after 3 min")
	}
	other := connIDs{key: []byte("other"), window: 30 * time.Second}
	if other.valid(id, a, now) {
		t.Error("ID valid under another key")
	}
	if c.issue(a, now) != id {
		t.Error("issue not deterministic within a window")
	}
	// Mapped and plain IPv4 are the same client once unmapped by the caller;
	// IPv6 addresses work too.
	v6 := netip.MustParseAddr("2001:db8::1")
	if !c.valid(c.issue(v6, now), v6, now) {
		t.Error("IPv6 ID rejected")
	}
}

// TestUDPIPv6Response checks the BEP 15 IPv6 format without binding an IPv6
// socket: a client reached over IPv6 gets 18-byte entries, IPv6 peers only.
func TestUDPIPv6Response(t *testing.T) {
	clock := newFakeClock()
	tr := &fakeTracker{resp: AnnounceResponse{Peers: testPeers(), Complete: 1}}
	f := newFrontend(t, tr, Config{Now: clock.Now})
	from := netip.MustParseAddrPort("[2001:db8::99]:4000")
	ctx := context.Background()
	resp := f.handleUDPPacket(ctx, connectPacket(5), from)
	connID := binary.BigEndian.Uint64(resp[8:16])

	a := udpAnnounce{connID: connID, tid: 6, hash: ih(1), peer: pid('Q'), port: 1, ip: [4]byte{1, 2, 3, 4}, numWant: -1}
	resp = f.handleUDPPacket(ctx, a.bytes(), from)
	wantHeader(t, resp, actionAnnounce, 6)
	want := binary.BigEndian.AppendUint32(nil, uint32(f.cfg.Interval/time.Second))
	want = binary.BigEndian.AppendUint32(want, 0)
	want = binary.BigEndian.AppendUint32(want, 1)
	want = append(want, "\x20\x01\x0d\xb8"+"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"+"\x00\x50"...)
	want = append(want, "\xfe\x80"+"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x12\x34"+"\x00\x01"...)
	if !bytes.Equal(resp[8:], want) {
		t.Fatalf("IPv6 announce\n got %x\nwant %x", resp[8:], want)
	}
	// The IPv4 IP field is ignored for IPv6 clients.
	if got := tr.lastAnnounce(t); got.IP != from.Addr() {
		t.Errorf("IP %v", got.IP)
	}
	// An ID issued to an IPv6 client is not valid for another address.
	resp = f.handleUDPPacket(ctx, a.bytes(), netip.MustParseAddrPort("[2001:db8::98]:4000"))
	wantError(t, resp, 6)
}

// TestUDPResponseSize checks that a large peer list is cut to fit one
// datagram (IPv6: the 1280-byte minimum MTU).
func TestUDPResponseSize(t *testing.T) {
	clock := newFakeClock()
	var peers []Peer
	for i := range 300 {
		ip4 := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		ip6 := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		peers = append(peers, Peer{IP: ip4, Port: 1}, Peer{IP: ip6, Port: 1})
	}
	tr := &fakeTracker{resp: AnnounceResponse{Peers: peers}}
	f := newFrontend(t, tr, Config{Now: clock.Now})
	for _, tc := range []struct {
		from    string
		entries int
	}{{"192.0.2.1:1", 200}, {"[2001:db8::1]:1", (1232 - 20) / 18}} {
		from := netip.MustParseAddrPort(tc.from)
		connID := binary.BigEndian.Uint64(f.handleUDPPacket(context.Background(), connectPacket(1), from)[8:16])
		a := udpAnnounce{connID: connID, tid: 2, hash: ih(1), peer: pid('Q'), port: 1, numWant: 1000}
		resp := f.handleUDPPacket(context.Background(), a.bytes(), from)
		wantHeader(t, resp, actionAnnounce, 2)
		entry := 6
		if from.Addr().Is6() {
			entry = 18
		}
		if got := (len(resp) - 20) / entry; got != tc.entries || (len(resp)-20)%entry != 0 {
			t.Errorf("%s: %d bytes, %d entries, want %d", tc.from, len(resp), got, tc.entries)
		}
	}
}

func TestUDPShortPacketsDropped(t *testing.T) {
	f := newFrontend(t, &fakeTracker{}, Config{})
	from := netip.MustParseAddrPort("127.0.0.1:1")
	for n := range 16 {
		if resp := f.handleUDPPacket(context.Background(), make([]byte, n), from); resp != nil {
			t.Errorf("%d-byte packet answered: %x", n, resp)
		}
	}
}

func TestUDPServeLifecycle(t *testing.T) {
	tr := &fakeTracker{block: make(chan struct{}), entered: make(chan struct{}, 1)}
	clock := newFakeClock()
	f := newFrontend(t, tr, Config{Now: clock.Now})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := f.NewUDPServer(pc)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background()) }()

	c := dialUDP(t, srv.LocalAddr())
	tid := c.nextTID()
	connID := binary.BigEndian.Uint64(c.roundTrip(connectPacket(tid))[8:16])
	// Leave an announce blocked inside the Tracker, then Close: Close must
	// cancel it and wait for the handler and Serve to return.
	a := udpAnnounce{connID: connID, tid: 9, hash: ih(1), peer: pid('Q'), port: 1}
	c.conn.Write(a.bytes())
	<-tr.entered
	if err := srv.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := srv.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Close: %v", err)
	}

	// Cancelling the context stops Serve with nil, also while a handler
	// is blocked.
	pc2, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv2 := f.NewUDPServer(pc2)
	ctx, cancel := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- srv2.Serve(ctx) }()
	c2 := dialUDP(t, srv2.LocalAddr())
	connID = binary.BigEndian.Uint64(c2.roundTrip(connectPacket(1))[8:16])
	a.connID = connID
	c2.conn.Write(a.bytes())
	<-tr.entered
	cancel()
	if err := <-done2; err != nil {
		t.Errorf("Serve after cancel: %v", err)
	}
	if err := srv2.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Errorf("second Serve: %v", err)
	}
	srv2.Close()
}
