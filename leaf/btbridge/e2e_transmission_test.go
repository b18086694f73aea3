package btbridge_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
)

// TestTransmissionTransfer: a second real BitTorrent client, Transmission
// (Debian package transmission-cli), downloads through the overlay twice,
// once announcing over the HTTP tracker and once over the UDP tracker
// (BEP 15), from an aria2 seeder. Seeder and leechers each talk only to
// their own leaf, the leaves are attached to different supernodes, and
// DHT, PEX and local peer discovery are off, so the overlay is the only
// way they learn of each other. Both files are checked by sha256, and
// scrape counts both completions.
func TestTransmissionTransfer(t *testing.T) {
	tcli, err := exec.LookPath("transmission-cli")
	if err != nil {
		t.Skip("transmission-cli not found: install the Debian package transmission-cli to run this end-to-end test")
	}
	aria2, err := exec.LookPath("aria2c")
	if err != nil {
		t.Skip("aria2c not found: install the Debian package aria2 (the seeder of this test)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	start := time.Now()

	sns := startSupernodes(t, 4)
	la, lb := startLeaf(t, sns[0]), startLeaf(t, sns[3])
	if la.Primary() == lb.Primary() {
		t.Fatal("both leaves attached to the same supernode")
	}
	cfg := btbridge.Config{Interval: 3 * time.Second, SweepInterval: 200 * time.Millisecond}
	// What the clients send, for the log.
	cfg.Frontend.OnRequest = func(r bttracker.RequestInfo) {
		t.Logf("tracker: %s %s event=%s → %s, %d peers", r.Protocol, r.Kind, r.Event, r.Result, r.Peers)
	}
	ta, tb := startBridge(t, la, cfg), startBridge(t, lb, cfg)

	dir := t.TempDir()
	payload := make([]byte, 3<<20)
	rand.NewChaCha8([32]byte{'t', 'r'}).Read(payload)
	const name = "payload.bin"
	seedDir := filepath.Join(dir, "seed")
	if err := os.MkdirAll(seedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(seedDir, name), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ih, seedTorrent := makeTorrent(t, dir, "seed.torrent", name, payload, ta.announceURL())
	_, httpTorrent := makeTorrent(t, dir, "http.torrent", name, payload, tb.announceURL())
	_, udpTorrent := makeTorrent(t, dir, "udp.torrent", name, payload, "udp://"+tb.addr.String()+"/announce")

	seeder := startAria2(t, ctx, aria2, "aria2 seeder", []string{
		"--no-conf=true", "--enable-dht=false", "--enable-dht6=false", "--enable-peer-exchange=false",
		"--bt-enable-lpd=false", "--disable-ipv6=true", "--file-allocation=none", "--summary-interval=0",
		"--console-log-level=warn", "--log-level=info", "--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10",
		"--stop-with-process=" + strconv.Itoa(os.Getpid()),
		"--interface=127.0.0.2", "--listen-port=" + freePort(t, "127.0.0.2"), "--dir=" + seedDir,
		"--check-integrity=true", "--seed-ratio=0.0", "--log=" + filepath.Join(dir, "seeder.log"), seedTorrent})
	waitFor(t, 60*time.Second, "the seeder to be visible from leaf B", func() bool {
		if seeder.exited() {
			t.Fatalf("seeder exited early: %v\n%s", seeder.err, seeder.logTail())
		}
		st, err := tb.br.Scrape(ctx, []bttracker.InfoHash{ih})
		return err == nil && st[0].Complete == 1
	})

	for i, leg := range []struct{ tracker, torrent, ip string }{
		{"HTTP", httpTorrent, "127.0.0.3"},
		{"UDP", udpTorrent, "127.0.0.4"},
	} {
		legStart := time.Now()
		home := filepath.Join(dir, "transmission-"+leg.tracker)
		want := i + 1
		// Stopped only once its "completed" event was counted at its leaf.
		counted := func() bool {
			st, err := tb.br.Scrape(ctx, []bttracker.InfoHash{ih})
			return err == nil && st[0].Downloaded == want
		}
		got := runTransmission(t, ctx, tcli, home, leg.ip, leg.torrent, name, counted)
		if sha256.Sum256(got) != sha256.Sum256(payload) {
			t.Fatalf("Transmission over the %s tracker: file differs (%d bytes, want %d)", leg.tracker, len(got), len(payload))
		}
		t.Logf("Transmission downloaded and verified %d bytes through the overlay, %s tracker, in %s",
			len(got), leg.tracker, time.Since(legStart).Round(time.Millisecond))
		// The completion is counted at the seeder's leaf too, though the
		// leecher's leaf withdrew the torrent when Transmission stopped.
		waitFor(t, 10*time.Second, "scrape at leaf A to count the completion", func() bool {
			st, err := ta.br.Scrape(ctx, []bttracker.InfoHash{ih})
			return err == nil && st[0].Downloaded == want
		})
	}
	// Each client talked only to its own leaf; the leechers left (stopped).
	if st := ta.br.Stats(); st.Clients != 1 {
		t.Errorf("leaf A has %d clients, want only the seeder", st.Clients)
	}
	waitFor(t, 10*time.Second, "leaf B to withdraw after the leechers stopped", func() bool {
		return !hasCID(lb, bttracker.InfoHashToCID(ih))
	})
	t.Logf("whole test: %s", time.Since(start).Round(time.Millisecond))
}

// runTransmission downloads torrent with transmission-cli bound to ip,
// waits until the finish script ran, stops it (SIGINT: it announces
// "stopped") and returns the file.
func runTransmission(t *testing.T, ctx context.Context, bin, home, ip, torrent, name string, counted func() bool) []byte {
	t.Helper()
	cfgDir, dlDir := filepath.Join(home, "config"), filepath.Join(home, "download")
	for _, d := range []string{cfgDir, dlDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t, ip)
	settings := map[string]any{
		"bind-address-ipv4": ip, "bind-address-ipv6": "::1",
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
		"port-forwarding-enabled": false, "peer-port-random-on-start": false, "rpc-enabled": false,
		"incomplete-dir-enabled": false, "download-dir": dlDir, "blocklist-enabled": false,
		"speed-limit-down-enabled": false, "speed-limit-up-enabled": false, "ratio-limit-enabled": false,
		"encryption": 1, "message-level": 2, "cache-size-mb": 4, "prefetch-enabled": false,
	}
	raw, _ := json.MarshalIndent(settings, "", "  ")
	if err := os.WriteFile(filepath.Join(cfgDir, "settings.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	done := filepath.Join(home, "finished")
	script := filepath.Join(home, "finished.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ntouch '"+done+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := startAria2(t, ctx, bin, "transmission-cli "+ip, []string{"-g", cfgDir, "-w", dlDir, "-p", port, "-M", "-ep", "-f", script, torrent})
	waitFor(t, 60*time.Second, "Transmission on "+ip+" to finish", func() bool {
		if p.exited() {
			t.Fatalf("transmission-cli exited early: %v", p.err)
		}
		_, err := os.Stat(done)
		return err == nil
	})
	waitFor(t, 15*time.Second, "Transmission's completed event to be counted", func() bool {
		if p.exited() {
			t.Fatalf("transmission-cli exited early: %v", p.err)
		}
		return counted()
	})
	p.stop()
	if err := p.wait(15 * time.Second); err != nil {
		t.Logf("transmission-cli exit: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(dlDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return got
}
