package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/protocol"
)

// Acceptance 1: durable supernodes. Leaves announce, then stop (nothing
// refreshes any more); every supernode is stopped with SIGTERM and started
// again on the same data dir, this time without --bootstrap (it finds its
// peers from its own peerstore). Every record is still there — counted,
// found by our lookup through every supernode's API, and found by a stock
// kad-dht client — and the records still expire when they were due to
// (their timestamps survived), not a TTL after the restart.
func TestRestartKeepsRecords(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	const (
		nSupernodes = 4
		nLeaves     = 2
		perLeaf     = 10
		ttl         = 45 * time.Second // leaves refresh every 15 s: records live ≥ 30 s after they stop
		downtime    = 12 * time.Second // from the leaves' stop to the restart
	)
	common := []string{"--local", "--replication", "2", "--record-ttl", ttl.String()}
	sns := make([]*opsProc, nSupernodes)
	var boot string
	for i := range sns {
		ip := opsIP(31 + i)
		port := strings.TrimPrefix(freeHostPort(t, ip), ip+":") // fixed: the others remember it
		sns[i] = newOpsProc(t, dir, fmt.Sprintf("sn%d", i), "supernode", ip, port, common...)
		if i > 0 {
			sns[i].args = append(sns[i].args, "--bootstrap", boot)
		}
		sns[i].start(t, bin)
		if i == 0 {
			boot = sns[0].addr()
		}
	}
	poll(t, 30*time.Second, "every supernode sees the others", func() (bool, string) {
		return routingTablesFull(t, sns)
	})
	var allSN []string
	for _, s := range sns {
		allSN = append(allSN, s.addr())
	}

	leaves := make([]*opsProc, nLeaves)
	objects := map[string]string{} // CID → holder peer ID
	for i := range leaves {
		leaves[i] = newOpsProc(t, dir, fmt.Sprintf("leaf%d", i), "leaf", opsIP(41+i), "0", "--supernode", strings.Join(allSN, ","))
		leaves[i].start(t, bin)
		c := leaves[i].client()
		for j := 0; j < perLeaf; j++ {
			obj := opsCID("restart-"+strconv.Itoa(i), j)
			// A leaf just started may not be attached yet (announce
			// then fails fast): retry within a deadline.
			poll(t, 20*time.Second, fmt.Sprintf("leaf %d announce %d with 2 replicas", i, j), func() (bool, string) {
				r, err := c.Announce(t.Context(), []string{obj})
				if err != nil || r.Replicas != 2 {
					return false, fmt.Sprintf("%v %+v", err, r)
				}
				return true, ""
			})
			objects[obj] = leaves[i].peerID()
		}
	}

	// Nothing refreshes from here on.
	for _, l := range leaves {
		l.stop(t, 15*time.Second)
	}
	leavesStopped := time.Now()

	before := recordCounts(t, sns)
	checkFound(t, "before the restart (our lookup)", sns, objects)
	client := newStockClient(t, opsIP(50), allSN)
	checkStockClient(t, "before the restart (stock kad-dht client)", client, objects)
	client.close()

	// SIGTERM every supernode at once; all exit 0.
	var wg sync.WaitGroup
	for _, s := range sns {
		wg.Go(func() { s.stop(t, 30*time.Second) })
	}
	wg.Wait()
	// The overlay stays down for a while, so that a record whose timestamp
	// were reset by the restart would outlive its due time measurably.
	select {
	case <-time.After(time.Until(leavesStopped.Add(downtime))): // scenario delay, not synchronisation
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	// Same data dirs and listen addresses; no --bootstrap.
	restarted := time.Now()
	for _, s := range sns {
		s.args = withoutFlag(s.args, "--bootstrap")
		s.api = freeHostPort(t, strings.Split(s.api, ":")[0])
		s.args = withFlag(s.args, "--api", s.api)
	}
	for _, s := range sns {
		wg.Go(func() { s.start(t, bin) })
	}
	wg.Wait()
	poll(t, 30*time.Second, "restarted supernodes find each other from their peerstores", func() (bool, string) {
		return routingTablesFull(t, sns)
	})
	after := recordCounts(t, sns)
	t.Logf("records per supernode: before %v (total %d), after the restart %v (total %d); %d objects",
		before, sum(before), after, sum(after), len(objects))
	// None lost: r = 2 copies of every object, before and after. The
	// counts may differ from before either way: the supernodes stop one
	// after another within the SIGTERM window, and those still up repair
	// the copies of those already gone onto each other (they cannot tell a
	// stop from a crash), and drop a surplus copy once its replicas hold it
	// (seen: before [10 6 16 10], after [10 6 15 10]). Every object is
	// also found through every supernode below.
	if sum(after) < len(objects)*2 || sum(before) < len(objects)*2 {
		t.Fatalf("records before %v, after %v: want at least %d (2 per object)", before, after, len(objects)*2)
	}
	checkFound(t, "after the restart (our lookup)", sns, objects)
	client = newStockClient(t, opsIP(51), allSN)
	checkStockClient(t, "after the restart (stock kad-dht client)", client, objects)
	client.close()
	if due := leavesStopped.Add(ttl); time.Now().After(due) {
		t.Fatalf("the checks ran past the records' expiry (%s after the leaves stopped): raise the TTL", time.Since(leavesStopped))
	}
	t.Logf("every record found %s after the leaves stopped (%s after the restart)",
		time.Since(leavesStopped).Round(time.Second), time.Since(restarted).Round(time.Second))

	// Expiry is honoured: by TTL after the leaves stopped (≤ their last
	// refresh + TTL) every record is gone, though a TTL has not passed
	// since the restart.
	select {
	case <-time.After(time.Until(leavesStopped.Add(ttl + 3*time.Second))): // wait for the due time
	case <-t.Context().Done():
		t.Fatal(t.Context().Err())
	}
	if time.Since(restarted) >= ttl {
		t.Fatalf("restart was %s ago: cannot tell reset timestamps from kept ones", time.Since(restarted))
	}
	for obj := range objects {
		for _, s := range sns {
			res, err := s.client().Lookup(t.Context(), obj, 0)
			if err != nil || len(res.Holders) != 0 {
				t.Fatalf("%s on %s after its expiry: %v %+v", obj, s.name, err, res)
			}
		}
	}
	poll(t, 10*time.Second, "expired records leave the count", func() (bool, string) {
		c := recordCounts(t, sns)
		return sum(c) == 0, fmt.Sprint(c)
	})
	t.Logf("all %d records expired on time (%s after the leaves stopped, %s after the restart)",
		len(objects), time.Since(leavesStopped).Round(time.Second), time.Since(restarted).Round(time.Second))
}

func routingTablesFull(t *testing.T, sns []*opsProc) (bool, string) {
	var sizes []int
	ok := true
	for _, s := range sns {
		st, err := s.client().Status(t.Context())
		if err != nil || st.RoutingTable == nil {
			return false, fmt.Sprintf("%s: %v", s.name, err)
		}
		sizes = append(sizes, *st.RoutingTable)
		ok = ok && *st.RoutingTable >= len(sns)-1
	}
	return ok, fmt.Sprintf("routing tables %v", sizes)
}

func recordCounts(t *testing.T, sns []*opsProc) []int {
	t.Helper()
	var out []int
	for _, s := range sns {
		st, err := s.client().Status(t.Context())
		if err != nil || st.Records == nil {
			t.Fatalf("%s status: %v", s.name, err)
		}
		out = append(out, *st.Records)
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// checkFound looks every object up through every supernode's API.
func checkFound(t *testing.T, when string, sns []*opsProc, objects map[string]string) {
	t.Helper()
	found := 0
	for obj, holder := range objects {
		for _, s := range sns {
			res, err := s.client().Lookup(t.Context(), obj, 0)
			if err != nil || len(res.Holders) != 1 || res.Holders[0].PeerID != holder || len(res.Holders[0].Addrs) == 0 {
				t.Fatalf("%s: %s via %s: %v %+v, want holder %s with addresses", when, obj, s.name, err, res, holder)
			}
			found++
		}
	}
	t.Logf("%s: %d objects × %d supernodes: all %d lookups found the holder with its addresses", when, len(objects), len(sns), found)
}

// stockClient is an unmodified kad-dht client with our protocol prefix.
type stockClient struct {
	h host.Host
	d *dht.IpfsDHT
}

func newStockClient(t *testing.T, ip string, supernodes []string) *stockClient {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/tcp/0", ip)))
	if err != nil {
		t.Fatal(err)
	}
	var boot []peer.AddrInfo
	for _, s := range supernodes {
		ai, err := peer.AddrInfoFromP2pAddr(ma.StringCast(s))
		if err != nil {
			t.Fatal(err)
		}
		boot = append(boot, *ai)
	}
	d, err := dht.New(h, dht.Mode(dht.ModeClient), dht.ProtocolPrefix(protocol.DHTPrefix), dht.BootstrapPeers(boot...))
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	c := &stockClient{h: h, d: d}
	for _, ai := range boot {
		if err := h.Connect(t.Context(), ai); err != nil {
			c.close()
			t.Fatal(err)
		}
	}
	poll(t, 15*time.Second, "stock client's routing table", func() (bool, string) {
		n := d.RoutingTable().Size()
		return n == len(boot), fmt.Sprintf("%d of %d", n, len(boot))
	})
	return c
}

func (c *stockClient) close() {
	c.d.Close()
	c.h.Close()
}

func checkStockClient(t *testing.T, when string, c *stockClient, objects map[string]string) {
	t.Helper()
	for obj, holder := range objects {
		k, err := cid.Decode(obj)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		var got []peer.AddrInfo
		for ai := range c.d.FindProvidersAsync(ctx, k, 1) {
			got = append(got, ai)
		}
		cancel()
		if len(got) != 1 || got[0].ID.String() != holder || len(got[0].Addrs) == 0 {
			t.Fatalf("%s: FindProvidersAsync(%s) = %v, want %s with addresses", when, obj, got, holder)
		}
	}
	t.Logf("%s: all %d objects found with their holder's addresses", when, len(objects))
}

func withoutFlag(args []string, flag string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == flag {
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func withFlag(args []string, flag, value string) []string {
	return append(withoutFlag(args, flag), flag, value)
}
