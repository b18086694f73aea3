package baseline

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/workload"
)

func TestConfigValidate(t *testing.T) {
	good := []Config{
		{Design: DesignServer, Servers: []Server{{IP: "127.0.0.2", Port: 7000}}, Whitelist: "wl"},
		{Design: DesignFlatDHT, BucketSize: 3},
	}
	for i := range good {
		if err := good[i].Validate(); err != nil {
			t.Errorf("%+v: %v", good[i], err)
		}
	}
	if good[0].Opentracker != "opentracker" || good[0].NumWant != 50 || good[0].LookupWait <= 0 || good[1].Prefix != DefaultPrefix {
		t.Errorf("defaults not filled: %+v %+v", good[0], good[1])
	}
	bad := []Config{
		{Design: "bogus"},
		{Design: DesignServer, Whitelist: "wl"},
		{Design: DesignServer, Servers: []Server{{IP: "10.0.0.1", Port: 7000}}, Whitelist: "wl"},
		{Design: DesignServer, Servers: []Server{{IP: "127.0.0.2", Port: 0}}, Whitelist: "wl"},
		{Design: DesignServer, Servers: []Server{{IP: "127.0.0.2", Port: 7000}}},
		{Design: DesignFlatDHT, BucketSize: -1},
		{Design: DesignFlatDHT, Refresh: -time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: accepted", c)
		}
	}
	// Round trip through a file; unknown fields are refused.
	dir := t.TempDir()
	p := filepath.Join(dir, "c.json")
	if err := WriteConfig(p, &good[0]); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(p)
	if err != nil || c.Servers[0] != good[0].Servers[0] {
		t.Fatalf("LoadConfig: %+v, %v", c, err)
	}
	if err := os.WriteFile(p, []byte(`{"design":"flatdht","bogus":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig(p); err == nil {
		t.Error("unknown field accepted")
	}
}

func TestWhitelistAndInfoHash(t *testing.T) {
	wl := Whitelist(3)
	lines := strings.Split(strings.TrimSpace(string(wl)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines", len(lines))
	}
	for i, l := range lines {
		h := InfoHash(workload.ObjectCID(i))
		if l != hex.EncodeToString(h[:]) || len(l) != 40 {
			t.Errorf("line %d = %q", i, l)
		}
	}
	if InfoHash(workload.ObjectCID(0)) == InfoHash(workload.ObjectCID(1)) {
		t.Error("two objects share an infohash")
	}
}

func TestPeerIDForIP(t *testing.T) {
	a1, err := PeerIDForIP("127.0.0.2")
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := PeerIDForIP("127.0.0.2")
	b, _ := PeerIDForIP("127.0.0.3")
	if a1 != a2 || a1 == b || !strings.HasPrefix(a1.String(), "12D3KooW") {
		t.Errorf("ids %s %s %s", a1, a2, b)
	}
}

func TestParseListen(t *testing.T) {
	ip, port, err := parseListen("/ip4/127.0.0.7/tcp/4001,/ip4/127.0.0.7/udp/4001/quic-v1")
	if err != nil || ip != "127.0.0.7" || port != 4001 {
		t.Errorf("got %s %d %v", ip, port, err)
	}
	for _, s := range []string{"", "/ip4/10.1.1.1/tcp/1", "/ip6/::1/tcp/1", "/ip4/127.0.0.1/udp/1", "/ip4/127.0.0.1/tcp/x"} {
		if _, _, err := parseListen(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestWrapper(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.sh")
	if err := WriteWrapper(p, "/x/it's", "baseline-node", "-config", "/a b/c.json"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "#!/bin/sh\nexec '/x/it'\\''s' 'baseline-node' '-config' '/a b/c.json' \"$@\"\n"
	if string(b) != want {
		t.Errorf("wrapper:\n%s\nwant\n%s", b, want)
	}
	if st, _ := os.Stat(p); st.Mode()&0o111 == 0 {
		t.Error("wrapper not executable")
	}
}

func TestReadOps(t *testing.T) {
	dir := t.TempDir()
	n1 := filepath.Join(dir, "node0")
	if err := os.MkdirAll(n1, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := `{"op":"start","ok":true}
{"op":"lookup","ok":true,"providers":2,"rpcs":5}
{"op":"lookup","ok":true,"providers":0,"rpcs":3}
{"op":"announce","ok":false}
{"op":"lookup","ok":tr` // a line cut by a SIGKILL
	if err := os.WriteFile(filepath.Join(n1, OpsFile), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n1, PIDsFile), []byte("12\n34\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := ReadOps(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Starts != 1 || s.Lookups != 2 || s.ProvidersFound != 2 || s.LookupsFound != 1 || s.RPCs != 8 || s.RPCsPerLookup != 4 || s.Announces != 1 || s.AnnouncesOK != 0 {
		t.Errorf("%+v", s)
	}
	pids, err := ServerPIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pids["node0"]) != 2 || pids["node0"][1] != 34 {
		t.Errorf("pids %v", pids)
	}
}
