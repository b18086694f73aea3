package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/netns"
	"github.com/supertracker/supertracker/testnet/proc"
)

// Issue 18: leaves behind real NAT (network namespaces, nftables
// masquerade; see testnet/netns). Needs root; skipped otherwise.

// natLab makes a lab whose namespaces go when the test ends, after every
// process in them (cleanups run last-registered first).
func natLab(t *testing.T) (*netns.Lab, string) {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("skipping the NAT test: %v", err)
	}
	bin := binary(t)
	lab, err := netns.NewLab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("removing the namespaces: %v", err)
		}
	})
	return lab, bin
}

// nsProc is a supertracker process inside a namespace. Every machine is
// its own namespace, so each serves its API on its own loopback.
type nsProc struct {
	name string
	ns   netns.NS
	p    *proc.Proc
	api  string
	http *http.Client
	log  string
}

// startIn runs `supertracker args…` inside ns and waits until its API
// answers /healthz.
func startIn(t *testing.T, ns netns.NS, bin, dir, name, api string, args ...string) *nsProc {
	t.Helper()
	n := &nsProc{name: name, ns: ns, api: api, http: ns.HTTPClient(10 * time.Second), log: filepath.Join(dir, name+".log")}
	p, err := proc.Start(t.Context(), proc.Spec{
		Binary:  "ip",
		Args:    append([]string{"netns", "exec", ns.Name, bin}, args...),
		LogPath: n.log,
		Ready:   20 * time.Second,
	})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	n.p = p
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			b, _ := os.ReadFile(n.log)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			t.Logf("--- last lines of %s's log:\n%s", name, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	})
	waitUntil(t, 15*time.Second, name+"'s API", func() (bool, string) {
		resp, err := n.http.Get("http://" + api + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return n
}

// addr is the first listen multiaddr the process printed.
func (n *nsProc) addr() string { return n.p.Addrs()[0] }

func (n *nsProc) getJSON(path string, out any) error {
	resp, err := n.http.Get("http://" + n.api + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

func (n *nsProc) status(t *testing.T) *httpapi.Status {
	t.Helper()
	var st httpapi.Status
	if err := n.getJSON(httpapi.PathStatus, &st); err != nil {
		t.Fatalf("%s status: %v", n.name, err)
	}
	return &st
}

// waitUntil polls cond every 250 ms; the test fails after d with the last
// reason cond gave.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %s", d, what, why)
		}
		time.Sleep(250 * time.Millisecond) // polling interval
	}
}

func circuitAddrs(addrs []string) []string {
	var out []string
	for _, a := range addrs {
		if strings.Contains(a, "/p2p-circuit") {
			out = append(out, a)
		}
	}
	return out
}

// natBTAnnounce is a BitTorrent client's HTTP announce from inside ns; it
// returns the compact peers handed out.
func natBTAnnounce(ns netns.NS, tracker string, ih bttracker.InfoHash, peerID string, port, left int) ([]netip.AddrPort, error) {
	q := url.Values{
		"info_hash": {string(ih[:])}, "peer_id": {peerID}, "port": {strconv.Itoa(port)},
		"uploaded": {"0"}, "downloaded": {"0"}, "left": {strconv.Itoa(left)}, "compact": {"1"}, "numwant": {"50"},
	}
	resp, err := ns.HTTPClient(20 * time.Second).Get("http://" + tracker + "/announce?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	v, err := bencode.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("announce reply %q: %w", body, err)
	}
	d, _ := v.(map[string]any)
	if fr, ok := d["failure reason"]; ok {
		return nil, fmt.Errorf("tracker: %v", fr)
	}
	raw, _ := d["peers"].(string)
	var out []netip.AddrPort
	for i := 0; i+6 <= len(raw); i += 6 {
		ip := netip.AddrFrom4([4]byte([]byte(raw[i : i+4])))
		out = append(out, netip.AddrPortFrom(ip, uint16(raw[i+4])<<8|uint16(raw[i+5])))
	}
	return out, nil
}

// directConns lists the established TCP connections in ns whose peer is at
// ip (ss, iproute2): between two homes, only a hole-punched one can exist.
func directConns(t *testing.T, ns netns.NS, ip string) []string {
	t.Helper()
	out, err := ns.Run(t.Context(), "ss", "-Htn", "state", "established")
	if err != nil {
		t.Fatal(err)
	}
	var hits []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && strings.HasPrefix(f[3], ip+":") {
			hits = append(hits, f[2]+" ↔ "+f[3])
		}
	}
	return hits
}

// relayedBytes sums what the supernodes' relays carried to leaves
// (libp2p's byte counts on the relay's STOP streams).
func relayedBytes(t *testing.T, sns ...*nsProc) int64 {
	var n int64
	for _, sn := range sns {
		tr := sn.status(t).Traffic["/libp2p/circuit/relay/0.2.0/stop"]
		n += tr.BytesIn + tr.BytesOut
	}
	return n
}

// Issue 18, acceptance 1: two leaves, each behind its own NAT, supernodes
// on the Internet segment. B's lookup returns A with /p2p-circuit
// addresses; B's BitTorrent tracker hands out A's client, fetched from A
// with bt-peers through a supernode's relay; DCUtR upgrades A↔B to a direct
// connection behind two port-preserving NATs (endpoint-independent
// mapping), never when either NAT randomizes ports (endpoint-dependent
// mapping: the address the supernodes observed is not the one the punch
// comes from, and libp2p does no port prediction).
func TestNATLeavesReachableThroughRelays(t *testing.T) {
	for _, tc := range []struct {
		kindA, kindB netns.NATKind
		direct       bool
	}{
		{netns.PortPreserving, netns.PortPreserving, true},
		{netns.PortPreserving, netns.PortRandom, false},
		{netns.PortRandom, netns.PortRandom, false},
	} {
		t.Run(tc.kindA.String()+"+"+tc.kindB.String(), func(t *testing.T) {
			lab, bin := natLab(t)
			dir := t.TempDir()
			in, err := lab.NewInternet()
			if err != nil {
				t.Fatal(err)
			}
			h1, _ := in.AddHost("sn1")
			h2, err := in.AddHost("sn2")
			if err != nil {
				t.Fatal(err)
			}
			ip1, ip2 := h1.IP, h2.IP
			homeA, err := lab.NewHome(in, 1, tc.kindA)
			if err != nil {
				t.Fatal(err)
			}
			homeB, err := lab.NewHome(in, 2, tc.kindB)
			if err != nil {
				t.Fatal(err)
			}
			sn1 := startIn(t, h1.NS, bin, dir, "sn1", "127.0.0.1:5001", "supernode", "--local",
				"--listen", "/ip4/"+ip1+"/tcp/4001", "--data", filepath.Join(dir, "sn1"), "--api", "127.0.0.1:5001")
			sn2 := startIn(t, h2.NS, bin, dir, "sn2", "127.0.0.1:5001", "supernode", "--local",
				"--listen", "/ip4/"+ip2+"/tcp/4001", "--data", filepath.Join(dir, "sn2"), "--api", "127.0.0.1:5001",
				"--bootstrap", sn1.addr())
			sns := sn1.addr() + "," + sn2.addr()
			startLeaf := func(name string, h *netns.Home) *nsProc {
				return startIn(t, h.Host, bin, dir, name, "127.0.0.1:5001", "leaf",
					"--listen", "/ip4/"+h.LANIP+"/tcp/4001", "--data", filepath.Join(dir, name), "--supernode", sns,
					"--api", "127.0.0.1:5001", "--bt-listen", "127.0.0.1:6969", "--bt-external-ip", h.WANIP)
			}
			leafA, leafB := startLeaf("leafA", homeA), startLeaf("leafB", homeB)

			// Both leaves find out they are unreachable and reserve on the
			// primary and the backup: one circuit address per supernode.
			for _, l := range []*nsProc{leafA, leafB} {
				waitUntil(t, 20*time.Second, l.name+" to announce a /p2p-circuit address through each supernode", func() (bool, string) {
					st := l.status(t)
					c := circuitAddrs(st.Addrs)
					return len(st.Supernodes) == 2 && len(c) == 2, fmt.Sprintf("supernodes %v, addrs %v", st.Supernodes, st.Addrs)
				})
				if r := l.status(t).Relay; r == nil || r.Reachability != "private" || len(r.Relays) != 2 {
					t.Fatalf("%s's status: relay %+v, want reachability private and slots on both supernodes", l.name, r)
				}
			}
			idA := leafA.status(t).PeerID

			// A's BitTorrent client (on A's machine) announces a torrent it
			// seeds to A's tracker; B's client asks B's tracker for peers.
			var ih bttracker.InfoHash
			copy(ih[:], "supertracker-nat-e2e")
			clientA := netip.AddrPortFrom(netip.MustParseAddr(homeA.WANIP), 51413)
			if _, err := natBTAnnounce(homeA.Host, "127.0.0.1:6969", ih, "-ST0001-clientA_____", 51413, 0); err != nil {
				t.Fatalf("A's client announcing to A's tracker: %v", err)
			}
			var got []netip.AddrPort
			waitUntil(t, 20*time.Second, "B's tracker to hand out A's client", func() (bool, string) {
				got, err = natBTAnnounce(homeB.Host, "127.0.0.1:6969", ih, "-ST0001-clientB_____", 6881, 1000)
				if err != nil {
					return false, err.Error()
				}
				for _, p := range got {
					if p == clientA {
						return true, ""
					}
				}
				return false, fmt.Sprintf("peers %v, want %s", got, clientA)
			})
			t.Logf("B's tracker handed out %v (A's client is %s)", got, clientA)

			// B's lookup returns A with its relay addresses.
			var lk httpapi.LookupResponse
			if err := leafB.getJSON(httpapi.PathLookup+"?cid="+bttracker.InfoHashToCID(ih).String(), &lk); err != nil {
				t.Fatal(err)
			}
			var holderA []string
			for _, h := range lk.Holders {
				if h.PeerID == idA {
					holderA = h.Addrs
				}
			}
			if len(circuitAddrs(holderA)) == 0 {
				t.Fatalf("B's lookup: A's addresses %v carry no /p2p-circuit address (holders %+v)", holderA, lk.Holders)
			}
			t.Logf("B's lookup returns A at %v", holderA)
			// libp2p's byte counters are updated about once a second.
			waitUntil(t, 5*time.Second, "the supernodes' relays to count relayed bytes", func() (bool, string) {
				n := relayedBytes(t, sn1, sn2)
				return n > 0, fmt.Sprintf("%d B; sn1 traffic %v", n, sn1.status(t).Traffic)
			})
			t.Logf("the supernodes' relays carried %d B to and from leaves", relayedBytes(t, sn1, sn2))

			// Hole punching: A↔B directly between the two routers' WAN
			// addresses, seen in A's kernel.
			if tc.direct {
				var conns []string
				waitUntil(t, 20*time.Second, "DCUtR to open a direct A↔B connection", func() (bool, string) {
					conns = directConns(t, homeA.Host, homeB.WANIP)
					return len(conns) > 0, "no TCP connection from A to B's router"
				})
				t.Logf("direct A↔B connections in A's namespace: %v", conns)
			} else {
				// Each DCUtR attempt dials for up to 10 s; watch through the first.
				deadline := time.Now().Add(12 * time.Second)
				for time.Now().Before(deadline) {
					if c := directConns(t, homeA.Host, homeB.WANIP); len(c) > 0 {
						t.Fatalf("direct A↔B connection %v through port-randomizing NATs", c)
					}
					time.Sleep(250 * time.Millisecond) // polling interval
				}
				t.Log("no direct A↔B connection in 12 s: the peers stay relayed")
			}
			// Either way B's tracker keeps handing out A's client.
			if got, err := natBTAnnounce(homeB.Host, "127.0.0.1:6969", ih, "-ST0001-clientB_____", 6881, 1000); err != nil || !containsAddr(got, clientA) {
				t.Fatalf("B's announce after the hole punch: %v %v, want %s", got, err, clientA)
			}
		})
	}
}

func containsAddr(ps []netip.AddrPort, a netip.AddrPort) bool {
	for _, p := range ps {
		if p == a {
			return true
		}
	}
	return false
}

// Issue 18, acceptance 2: under the same demand, a `node` behind a NAT is
// never elected (status: reachable no, unreachable) while a public one is.
func TestNATNodeNeverElected(t *testing.T) {
	lab, bin := natLab(t)
	dir := t.TempDir()
	in, err := lab.NewInternet()
	if err != nil {
		t.Fatal(err)
	}
	hSN, _ := in.AddHost("sn")
	hP, err := in.AddHost("pub")
	if err != nil {
		t.Fatal(err)
	}
	ipSN, ipP := hSN.IP, hP.IP
	home, err := lab.NewHome(in, 3, netns.PortPreserving)
	if err != nil {
		t.Fatal(err)
	}
	// One supernode for two leaves: both nodes see it full (demand).
	sn := startIn(t, hSN.NS, bin, dir, "sn", "127.0.0.1:5001", "supernode", "--local", "--max-leaves", "2",
		"--listen", "/ip4/"+ipSN+"/tcp/4001", "--data", filepath.Join(dir, "sn"), "--api", "127.0.0.1:5001")
	common := []string{"node", "--preset", "local", "--supernode", sn.addr(),
		"--min-uptime", "2s", "--demand-window", "1s", "--min-upload", "1k"}
	nat := startIn(t, home.Host, bin, dir, "natnode", "127.0.0.1:5001", append(common,
		"--listen", "/ip4/"+home.LANIP+"/tcp/4001", "--data", filepath.Join(dir, "natnode"), "--api", "127.0.0.1:5001", "--seed", "1")...)
	pub := startIn(t, hP.NS, bin, dir, "pubnode", "127.0.0.1:5001", append(common,
		"--listen", "/ip4/"+ipP+"/tcp/4001", "--data", filepath.Join(dir, "pubnode"), "--api", "127.0.0.1:5001", "--seed", "2")...)

	var natEl election.Status
	waitUntil(t, 45*time.Second, "the public node to be elected", func() (bool, string) {
		ns := nat.status(t)
		if ns.Role != httpapi.RoleLeaf {
			t.Fatalf("the NATed node became %s", ns.Role)
		}
		if err := electionJSON(ns.Election, &natEl); err != nil {
			t.Fatalf("NATed node's election status: %v", err)
		}
		ps := pub.status(t)
		var pubEl election.Status
		_ = electionJSON(ps.Election, &pubEl)
		return ps.Role == httpapi.RoleSupernode, "public node is " + ps.Role + ":\n" + pubEl.String() + "\nNATed node:\n" + natEl.String()
	})
	// Under the same demand the NATed node was held back by reachability
	// alone: measured (a dial-back by its supernode) and failed.
	for _, c := range natEl.Criteria {
		switch {
		case c.Name == "reachable" && (!c.Known || c.OK || !strings.Contains(c.Detail, "unreachable")):
			t.Fatalf("NATed node's reachability: %+v, want measured, not OK, \"unreachable\"", c)
		case c.Name == "upload" && !c.OK:
			t.Fatalf("NATed node's upload not measured OK (%+v): reachability would not be the only reason", c)
		}
	}
	if natEl.Eligible {
		t.Fatal("NATed node reported eligible")
	}
	// `status` says why, in words.
	out, err := home.Host.Run(t.Context(), bin, "status", "--api", "127.0.0.1:5001")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "unreachable") {
		t.Fatalf("`supertracker status` of the NATed node does not say unreachable:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "unreachable") {
			t.Logf("NATed node's status: %s", strings.TrimSpace(line))
		}
	}
	// It stays reachable as a leaf, through its supernodes' relays.
	waitUntil(t, 15*time.Second, "the NATed node to announce a /p2p-circuit address", func() (bool, string) {
		st := nat.status(t)
		return len(circuitAddrs(st.Addrs)) > 0, fmt.Sprintf("addrs %v", st.Addrs)
	})
	if st := nat.status(t); st.Role != httpapi.RoleLeaf || st.Relay == nil || st.Relay.Reachability != "private" {
		t.Fatalf("the NATed node: role %s, relay %+v; want a leaf, reachability private", st.Role, st.Relay)
	}
}
