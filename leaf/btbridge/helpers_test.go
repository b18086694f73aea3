package btbridge_test

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

var quiet = inproc.Quiet

// startSupernodes starts n supernodes in one DHT with r = n, so every
// supernode sees every withdrawal.
func startSupernodes(t testing.TB, n int) []*supernode.Node {
	t.Helper()
	cfg := inproc.SupernodeConfig()
	cfg.ReplicationFactor = n
	return inproc.StartSupernodes(t, n, cfg)
}

// startLeaf starts a leaf that knows only sn and keeps no backups, so it is
// attached to sn and nothing else.
func startLeaf(t testing.TB, sn *supernode.Node) *leaf.Agent {
	t.Helper()
	c := inproc.LeafConfig([]peer.AddrInfo{sn.AddrInfo()})
	c.Backups = 0
	a := inproc.StartLeaf(t, c)
	if got := a.Primary(); got != sn.Host().ID() {
		t.Fatalf("leaf attached to %s, want %s", got, sn.Host().ID())
	}
	return a
}

// tracker is a bridge serving HTTP and UDP on a loopback port.
type tracker struct {
	br   *btbridge.Bridge
	addr netip.AddrPort
}

func (tr *tracker) announceURL() string { return "http://" + tr.addr.String() + "/announce" }

// startBridge starts a bridge on agent and serves it on 127.0.0.1:0.
// Cleanup stops serving, then closes the bridge (before the agent closes).
func startBridge(t testing.TB, agent *leaf.Agent, cfg btbridge.Config) *tracker {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	br, err := btbridge.New(agent, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := br.Listen("127.0.0.1:0")
	if err != nil {
		br.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- br.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		br.Close()
	})
	return &tracker{br: br, addr: l.Addr()}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	inproc.WaitFor(t, d, what, cond)
}

// waitUntil polls cond until it holds (true) or d passes (false).
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
	return true
}

// btClient is a simulated BitTorrent client: a peer ID, a 127.0.0.x
// address its HTTP requests come from, and a listening port.
type btClient struct {
	id   bttracker.PeerID
	ip   netip.Addr
	port uint16
	http *http.Client
}

func newClient(t testing.TB, name string, ip string, port uint16) *btClient {
	t.Helper()
	var id bttracker.PeerID
	copy(id[:], "-ST0001-"+name+"____________")
	a := netip.MustParseAddr(ip)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: a.AsSlice()}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &btClient{id: id, ip: a, port: port, http: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

func (c *btClient) addr() netip.AddrPort { return netip.AddrPortFrom(c.ip, c.port) }

// announce sends an HTTP announce; extra adds or overrides parameters.
func (c *btClient) announce(t testing.TB, tr *tracker, ih bttracker.InfoHash, left int, event string, extra url.Values) map[string]any {
	t.Helper()
	q := url.Values{
		"info_hash":  {string(ih[:])},
		"peer_id":    {string(c.id[:])},
		"port":       {strconv.Itoa(int(c.port))},
		"uploaded":   {"0"},
		"downloaded": {"0"},
		"left":       {strconv.Itoa(left)},
		"compact":    {"1"},
	}
	if event != "" {
		q.Set("event", event)
	}
	for k, v := range extra {
		q[k] = v
	}
	return c.get(t, "http://"+tr.addr.String()+"/announce?"+q.Encode())
}

func (c *btClient) scrape(t testing.TB, tr *tracker, ih bttracker.InfoHash) (complete, incomplete, downloaded int64) {
	t.Helper()
	d := c.get(t, "http://"+tr.addr.String()+"/scrape?"+url.Values{"info_hash": {string(ih[:])}}.Encode())
	files, _ := d["files"].(map[string]any)
	f, ok := files[string(ih[:])].(map[string]any)
	if !ok {
		t.Fatalf("scrape: no entry for %s in %v", ih, d)
	}
	return f["complete"].(int64), f["incomplete"].(int64), f["downloaded"].(int64)
}

func (c *btClient) get(t testing.TB, u string) map[string]any {
	t.Helper()
	resp, err := c.http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", u, resp.StatusCode)
	}
	v, err := bencode.Decode(body)
	if err != nil {
		t.Fatalf("GET %s: %q: %v", u, body, err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("GET %s: %q is not a dictionary", u, body)
	}
	return d
}

// compactPeers decodes BEP 23 compact IPv4 peers.
func compactPeers(t testing.TB, d map[string]any) []netip.AddrPort {
	t.Helper()
	if fr, ok := d["failure reason"]; ok {
		t.Fatalf("announce failed: %v", fr)
	}
	s, ok := d["peers"].(string)
	if !ok || len(s)%6 != 0 {
		t.Fatalf("bad compact peers in %v", d)
	}
	var out []netip.AddrPort
	for i := 0; i < len(s); i += 6 {
		ip := netip.AddrFrom4([4]byte([]byte(s[i : i+4])))
		out = append(out, netip.AddrPortFrom(ip, binary.BigEndian.Uint16([]byte(s[i+4:i+6]))))
	}
	return out
}

func counts(d map[string]any) (complete, incomplete int64) {
	c, _ := d["complete"].(int64)
	i, _ := d["incomplete"].(int64)
	return c, i
}

func infoHash(name string) bttracker.InfoHash {
	var h bttracker.InfoHash
	copy(h[:], name+"...................................")
	return h
}

func contains(ps []netip.AddrPort, p netip.AddrPort) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
