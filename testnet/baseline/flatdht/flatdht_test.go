package flatdht

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/workload"
)

func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestProvideFind: three in-process flat-DHT nodes (stock kad-dht servers
// with prefix /flatdht and bucket size 2); one provides, another finds it
// with FindProvidersAsync through remote RPCs; a restarted node keeps its
// peer ID.
func TestProvideFind(t *testing.T) {
	cfg := &baseline.Config{Design: baseline.DesignFlatDHT, BucketSize: 2, LookupWait: 5 * time.Second}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var nodes []*Backend
	var addrs []string
	dirs := make([]string, 3)
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", 41+i)
		dirs[i] = t.TempDir()
		b, _ := New(cfg)
		n := &baseline.Node{Cfg: cfg, Sub: "leaf", IP: ip, Port: freePort(t, ip), DataDir: dirs[i], Peers: addrs, Log: slog.Default()}
		if err := b.Start(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		nodes = append(nodes, b)
		addrs = append(addrs, b.Addrs()...)
	}
	// kad-dht adds a connected peer to its routing table only after
	// identify shows it speaks the DHT protocol: wait for complete tables.
	deadline := time.Now().Add(10 * time.Second)
	for _, b := range nodes {
		for b.d.RoutingTable().Size() < len(nodes)-1 {
			if time.Now().After(deadline) {
				t.Fatalf("routing table of %s holds %d peers after 10 s", b.PeerID(), b.d.RoutingTable().Size())
			}
			time.Sleep(10 * time.Millisecond) // polling interval
		}
	}
	obj := workload.ObjectCID(5)
	if _, err := nodes[0].Announce(ctx, []cid.Cid{obj}); err != nil {
		t.Fatal(err)
	}
	lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
	hs, info, err := nodes[2].Lookup(lctx, obj, 20)
	lcancel()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, h := range hs {
		found = found || h.PeerID == nodes[0].PeerID()
	}
	if !found || info.RPCs == 0 {
		t.Fatalf("holders %+v, RPCs %d: want node 0 via remote queries", hs, info.RPCs)
	}
	var st baseline.Status
	nodes[1].Status(&st)
	if st.Role != "supernode" || st.RoutingTable == nil || *st.RoutingTable == 0 {
		t.Errorf("status %+v", st)
	}
	// Same data directory, same identity.
	id := nodes[1].PeerID()
	_ = nodes[1].Close()
	b, _ := New(cfg)
	n := &baseline.Node{Cfg: cfg, Sub: "leaf", IP: "127.0.0.42", Port: freePort(t, "127.0.0.42"), DataDir: dirs[1], Peers: addrs, Log: slog.Default()}
	if err := b.Start(ctx, n); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.PeerID() != id {
		t.Errorf("restart changed the peer ID: %s → %s", id, b.PeerID())
	}
}
