package bttracker

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
)

func TestListenAndServeBothProtocols(t *testing.T) {
	tr := &fakeTracker{resp: AnnounceResponse{Peers: []Peer{{IP: v4a, Port: 0x1ae1}}}}
	f := newFrontend(t, tr, Config{})
	l, err := f.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr()
	if addr.Addr() != netip.MustParseAddr("127.0.0.1") || addr.Port() == 0 {
		t.Fatalf("Addr %v", addr)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx) }()

	// HTTP over TCP, with a real client.
	url := fmt.Sprintf("http://%s/announce?%s", addr, announceQuery(ih(0xf0), "event=started"))
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	v, err := bencode.Decode(body)
	if err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	if d := v.(map[string]any); d["peers"] != "\x0a\x00\x00\x01\x1a\xe1" {
		t.Fatalf("HTTP response %q", body)
	}
	if got := tr.lastAnnounce(t); got.InfoHash != ih(0xf0) || got.RemoteIP != addr.Addr() {
		t.Errorf("tracker saw %+v", got)
	}

	// UDP on the same port number.
	c := dialUDP(t, net.UDPAddrFromAddrPort(addr))
	r := c.roundTrip(connectPacket(77))
	wantHeader(t, r, actionConnect, 77)

	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	// Both sockets are released.
	if _, err := net.Dial("tcp", addr.String()); err == nil {
		t.Error("TCP still accepting")
	}
	pc, err := net.ListenPacket("udp", addr.String())
	if err != nil {
		t.Errorf("UDP port not released: %v", err)
	} else {
		pc.Close()
	}
}

// TestRawBytesOverTCP sends an info_hash with unescaped high bytes and ';'
// straight down a TCP connection, as a sloppy client might.
func TestRawBytesOverTCP(t *testing.T) {
	tr := &fakeTracker{}
	f := newFrontend(t, tr, Config{})
	l, err := f.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx) }()
	defer func() {
		cancel()
		<-done
	}()

	var h InfoHash
	for i := range h {
		h[i] = byte(0x80 + 6*i) // 0x80..0xf2, all raw
	}
	h[0] = ';'
	p := pid('P')
	q := "info_hash=" + string(h[:]) + "&peer_id=" + escapeAll(string(p[:])) + "&port=1&left=0"
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /announce?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", q)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.Contains(string(body), "failure") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	if got := tr.lastAnnounce(t); got.InfoHash != h {
		t.Errorf("info_hash %x, want %x", got.InfoHash, h)
	}
}

func TestListenErrors(t *testing.T) {
	f := newFrontend(t, &fakeTracker{}, Config{})
	for _, hp := range []string{":0", "127.0.0.1", "127.0.0.1:x", "[::1"} {
		if l, err := f.Listen(hp); err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", hp)
		}
	}
	// A port whose UDP side is taken fails (explicit ports are not retried).
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if l, err := f.Listen(pc.LocalAddr().String()); err == nil {
		l.Close()
		t.Error("Listen on a taken UDP port succeeded")
	}
	// Close on an unserved Listener releases it.
	l, err := f.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
