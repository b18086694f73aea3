package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/workload"
)

// fakeTracker is a minimal BEP 3 tracker: it remembers (ip, port) per
// infohash and answers with compact peers.
type fakeTracker struct {
	mu    sync.Mutex
	peers map[string][]string // infohash → "ip:port"
	srv   *http.Server
	url   baseline.Server
}

func startFake(t *testing.T, ip string) *fakeTracker {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTracker{peers: map[string][]string{}}
	f.url = baseline.Server{IP: ip, Port: ln.Addr().(*net.TCPAddr).Port}
	f.srv = &http.Server{Handler: http.HandlerFunc(f.announce), ReadHeaderTimeout: time.Second}
	go func() { _ = f.srv.Serve(ln) }()
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

func (f *fakeTracker) announce(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ih, port := q.Get("info_hash"), q.Get("port")
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.mu.Lock()
	key := net.JoinHostPort(host, port)
	found := false
	for _, p := range f.peers[ih] {
		found = found || p == key
	}
	if !found {
		f.peers[ih] = append(f.peers[ih], key)
	}
	var compact []byte
	for _, p := range f.peers[ih] {
		h, ps, _ := net.SplitHostPort(p)
		pn, _ := strconv.Atoi(ps)
		compact = append(compact, net.ParseIP(h).To4()...)
		compact = append(compact, byte(pn>>8), byte(pn))
	}
	f.mu.Unlock()
	b, _ := bencode.Encode(map[string]any{"interval": 1800, "peers": string(compact)})
	_, _ = w.Write(b)
}

func newClient(t *testing.T, ip string, cfg *baseline.Config) *Backend {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, _ := New(cfg)
	n := &baseline.Node{Cfg: cfg, Sub: "leaf", IP: ip, Port: 4001, DataDir: t.TempDir(), Log: slog.Default()}
	if err := b.Start(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestClientAgainstFakeTrackers: announces go to every tracker from the
// node's own IP; a lookup returns the union of holders on port 6881 with
// IP-derived peer IDs, not the lookers; it fails only when every tracker
// does.
func TestClientAgainstFakeTrackers(t *testing.T) {
	t1, t2 := startFake(t, "127.0.0.1"), startFake(t, "127.0.0.1")
	dead := baseline.Server{IP: "127.0.0.1", Port: 1} // refused
	cfg := &baseline.Config{Design: baseline.DesignServer, Servers: []baseline.Server{t1.url, t2.url, dead}, Whitelist: "unused"}
	holderA := newClient(t, "127.0.0.21", cfg)
	holderB := newClient(t, "127.0.0.22", cfg)
	looker := newClient(t, "127.0.0.23", cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	obj := workload.ObjectCID(3)
	if r, err := holderA.Announce(ctx, []cid.Cid{obj}); err != nil || r != 2 {
		t.Fatalf("announce A: %d, %v", r, err)
	}
	// B reaches only tracker 2.
	holderB.cfg = &baseline.Config{Design: baseline.DesignServer, Servers: []baseline.Server{t2.url}, Whitelist: "unused"}
	if _, err := holderB.Announce(ctx, []cid.Cid{obj}); err != nil {
		t.Fatal(err)
	}
	hs, info, err := looker.Lookup(ctx, obj, 50)
	if err != nil {
		t.Fatal(err)
	}
	if info.Trackers != 2 || len(hs) != 2 {
		t.Fatalf("trackers %d, holders %+v", info.Trackers, hs)
	}
	idA, _ := baseline.PeerIDForIP("127.0.0.21")
	idB, _ := baseline.PeerIDForIP("127.0.0.22")
	got := map[string]bool{hs[0].PeerID: true, hs[1].PeerID: true}
	if !got[idA.String()] || !got[idB.String()] {
		t.Errorf("holders %+v, want %s and %s", hs, idA, idB)
	}
	// The looker registered on port 6882 but is not a holder.
	hs, _, _ = holderA.Lookup(ctx, obj, 50)
	for _, h := range hs {
		if l, _ := baseline.PeerIDForIP("127.0.0.23"); h.PeerID == l.String() {
			t.Error("a looker is reported as a holder")
		}
	}
	// Failover (BEP 12): one tracker at a time, past the dead one, the
	// first answer only.
	fo := newClient(t, "127.0.0.25", &baseline.Config{Design: baseline.DesignServer, Servers: []baseline.Server{dead, t2.url}, Whitelist: "unused", LookupFailover: true})
	for range 4 { // both orders
		hs, info, err := fo.Lookup(ctx, obj, 50)
		if err != nil || info.Trackers != 1 || len(hs) != 2 {
			t.Fatalf("failover lookup: %v, trackers %d, holders %d", err, info.Trackers, len(hs))
		}
	}
	// Every tracker down: an error.
	none := newClient(t, "127.0.0.24", &baseline.Config{Design: baseline.DesignServer, Servers: []baseline.Server{dead}, Whitelist: "unused"})
	if _, _, err := none.Lookup(ctx, obj, 50); err == nil {
		t.Error("lookup with every tracker down succeeded")
	}
}

// TestRealOpentracker starts opentracker through the backend (as a node
// hosting server 0), announces and looks up through it, checks the
// whitelist is enforced and the process is gone after Close.
func TestRealOpentracker(t *testing.T) {
	ot, err := exec.LookPath("opentracker")
	if err != nil {
		t.Skip("opentracker is not installed: apt-get install opentracker (Debian package `opentracker`)")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	wl := filepath.Join(dir, "whitelist.txt")
	const objects = 64
	if err := os.WriteFile(wl, baseline.Whitelist(objects), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.31:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := &baseline.Config{Design: baseline.DesignServer, Opentracker: ot, Whitelist: wl,
		Servers: []baseline.Server{{IP: "127.0.0.31", Port: port}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	host, _ := New(cfg)
	hostDir := filepath.Join(dir, "node0")
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	n := &baseline.Node{Cfg: cfg, Sub: "supernode", IP: "127.0.0.31", Port: 4001, DataDir: hostDir, Log: slog.Default()}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := host.Start(ctx, n); err != nil {
		t.Fatal(err)
	}
	pids, err := baseline.ServerPIDs(dir)
	if err != nil || len(pids["node0"]) != 1 {
		_ = host.Close()
		t.Fatalf("pids %v, %v", pids, err)
	}
	pid := pids["node0"][0]
	holder := newClient(t, "127.0.0.32", cfg)
	if _, err := holder.Announce(ctx, []cid.Cid{workload.ObjectCID(1)}); err != nil {
		t.Errorf("announce: %v", err)
	}
	hs, _, err := host.Lookup(ctx, workload.ObjectCID(1), 50)
	id, _ := baseline.PeerIDForIP("127.0.0.32")
	if err != nil || len(hs) != 1 || hs[0].PeerID != id.String() {
		t.Errorf("lookup: %+v, %v", hs, err)
	}
	// Every whitelisted object goes through (binary infohashes are escaped
	// so that opentracker reads the same bytes).
	var all []cid.Cid
	for i := range objects {
		all = append(all, workload.ObjectCID(i))
	}
	if _, err := holder.Announce(ctx, all); err != nil {
		t.Errorf("announcing %d objects: %v", objects, err)
	}
	for i := range objects {
		if hs, _, err := host.Lookup(ctx, workload.ObjectCID(i), 50); err != nil || len(hs) != 1 {
			t.Errorf("object %d: %+v, %v", i, hs, err)
		}
	}
	// Not whitelisted: refused by opentracker.
	if _, err := holder.Announce(ctx, []cid.Cid{workload.ObjectCID(objects)}); err == nil || !strings.Contains(err.Error(), "not authorized") {
		t.Errorf("non-whitelisted announce: %v", err)
	}
	_ = host.Close()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
poll:
	for processAlive(pid) {
		select {
		case <-deadline.C:
			break poll
		case <-tick.C:
		}
	}
	if processAlive(pid) {
		t.Errorf("opentracker %d survives Close", pid)
	}
}

func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
