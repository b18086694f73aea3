package btbridge_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
)

// TestRealClientTransfer moves a file between two real BitTorrent clients
// (aria2, Debian package "aria2") that know only the overlay: each uses its
// own leaf's tracker, the leaves are attached to different supernodes, and
// DHT, PEX and local peer discovery are off, so the only way the leecher can
// learn the seeder's address is leaf B → overlay lookup → leaf A → bt-peers.
func TestRealClientTransfer(t *testing.T) {
	aria2, err := exec.LookPath("aria2c")
	if err != nil {
		t.Skip("aria2c not found: install the Debian package aria2 (apt-get install aria2) to run the real-client end-to-end test")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	sns := startSupernodes(t, 4)
	la, lb := startLeaf(t, sns[0]), startLeaf(t, sns[3])
	if la.Primary() == lb.Primary() {
		t.Fatal("both leaves attached to the same supernode")
	}
	cfg := btbridge.Config{Interval: 3 * time.Second, SweepInterval: 200 * time.Millisecond}
	ta, tb := startBridge(t, la, cfg), startBridge(t, lb, cfg)

	// A 4 MiB random file and two .torrent files with the same info
	// dictionary (so the same infohash) but each its own leaf's announce URL.
	dir := t.TempDir()
	seedDir, leechDir := filepath.Join(dir, "seed"), filepath.Join(dir, "leech")
	for _, d := range []string{seedDir, leechDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	payload := make([]byte, 4<<20)
	rng := rand.NewChaCha8([32]byte{'s', 't'})
	rng.Read(payload)
	const name = "payload.bin"
	if err := os.WriteFile(filepath.Join(seedDir, name), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ih, torrentA := makeTorrent(t, dir, "a.torrent", name, payload, ta.announceURL())
	ih2, torrentB := makeTorrent(t, dir, "b.torrent", name, payload, tb.announceURL())
	if ih != ih2 {
		t.Fatal("the two .torrent files have different infohashes")
	}
	t.Logf("torrent %s, %d bytes; seeder → %s, leecher → %s", ih, len(payload), ta.announceURL(), tb.announceURL())

	common := []string{
		"--no-conf=true", "--enable-dht=false", "--enable-dht6=false",
		"--enable-peer-exchange=false", "--bt-enable-lpd=false", "--disable-ipv6=true",
		"--file-allocation=none", "--summary-interval=0", "--console-log-level=warn",
		"--log-level=info", "--allow-overwrite=true", "--auto-file-renaming=false",
		"--bt-tracker-connect-timeout=5", "--bt-tracker-timeout=10",
		"--stop-with-process=" + strconv.Itoa(os.Getpid()), // never outlive the test binary
	}
	seeder := startAria2(t, ctx, aria2, "seeder", append(common,
		"--interface=127.0.0.2", "--listen-port="+freePort(t, "127.0.0.2"),
		"--dir="+seedDir, "--check-integrity=true", "--seed-ratio=0.0",
		"--log="+filepath.Join(dir, "seeder.log"), torrentA))

	// The seeder is visible through leaf B once it has announced to leaf A.
	waitFor(t, 60*time.Second, "the seeder to be visible from leaf B", func() bool {
		if seeder.exited() {
			t.Fatalf("seeder exited early: %v\n%s", seeder.err, seeder.logTail())
		}
		st, err := tb.br.Scrape(ctx, []bttracker.InfoHash{ih})
		return err == nil && st[0].Complete == 1
	})

	start := time.Now()
	leecher := startAria2(t, ctx, aria2, "leecher", append(common,
		"--interface=127.0.0.3", "--listen-port="+freePort(t, "127.0.0.3"),
		"--dir="+leechDir, "--seed-time=0",
		"--log="+filepath.Join(dir, "leecher.log"), torrentB))
	select {
	case <-leecher.done:
	case <-ctx.Done():
		t.Fatalf("leecher did not finish: %v\nleecher log:\n%s\nseeder log:\n%s", ctx.Err(), leecher.logTail(), seeder.logTail())
	}
	took := time.Since(start)
	if leecher.err != nil {
		t.Fatalf("leecher failed: %v\nleecher log:\n%s\nseeder log:\n%s", leecher.err, leecher.logTail(), seeder.logTail())
	}
	got, err := os.ReadFile(filepath.Join(leechDir, name))
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatalf("downloaded file differs (%d bytes, want %d)", len(got), len(payload))
	}
	t.Logf("aria2 leecher downloaded and verified %d bytes through the overlay in %s", len(got), took.Round(time.Millisecond))

	if d := os.Getenv("BTBRIDGE_E2E_LOGS"); d != "" { // keep the client logs
		for _, f := range []string{"seeder.log", "leecher.log"} {
			if b, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				os.WriteFile(filepath.Join(d, f), b, 0o644)
			}
		}
	}
	// Each client talked only to its own leaf.
	if st := ta.br.Stats(); st.Clients != 1 {
		t.Errorf("leaf A has %d clients, want only the seeder", st.Clients)
	}
	// The leecher sent "stopped" on exit: leaf B withdrew the torrent.
	waitFor(t, 10*time.Second, "leaf B to withdraw after the leecher stopped", func() bool {
		return !hasCID(lb, bttracker.InfoHashToCID(ih))
	})
	// A graceful seeder shutdown sends "stopped" too: leaf A withdraws.
	seeder.stop()
	if err := seeder.wait(15 * time.Second); err != nil {
		t.Logf("seeder exit: %v", err)
	}
	if !waitUntil(10*time.Second, func() bool { return !hasCID(la, bttracker.InfoHashToCID(ih)) }) {
		t.Fatalf("leaf A did not withdraw after the seeder stopped\nseeder log:\n%s", seeder.logTail())
	}
}

// makeTorrent writes a single-file .torrent for payload with the given
// announce URL and returns its infohash and path.
func makeTorrent(t testing.TB, dir, file, name string, payload []byte, announce string) (bttracker.InfoHash, string) {
	t.Helper()
	const pieceLen = 256 << 10
	var pieces []byte
	for off := 0; off < len(payload); off += pieceLen {
		sum := sha1.Sum(payload[off:min(off+pieceLen, len(payload))])
		pieces = append(pieces, sum[:]...)
	}
	info := map[string]any{"length": len(payload), "name": name, "piece length": pieceLen, "pieces": pieces}
	rawInfo, err := bencode.Encode(info)
	if err != nil {
		t.Fatal(err)
	}
	body, err := bencode.Encode(map[string]any{"announce": announce, "created by": "supertracker test", "info": info})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, rawInfo) {
		t.Fatal("info dictionary not embedded verbatim")
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return bttracker.InfoHash(sha1.Sum(rawInfo)), path
}

// freePort returns a TCP port free on ip now.
func freePort(t testing.TB, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// proc is a client process. Cleanup stops it at the latest: SIGINT, aria2's
// graceful shutdown, which announces "stopped" (SIGTERM would skip that),
// then SIGKILL if it lingers; and reaps it.
type proc struct {
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid once done is closed
}

func startAria2(t testing.TB, ctx context.Context, bin, name string, args []string) *proc {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // no terminal signals from the test's group
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	p := &proc{cmd: cmd, done: make(chan struct{})}
	for _, a := range args {
		if l, ok := strings.CutPrefix(a, "--log="); ok {
			p.log = l
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		if p.err != nil && out.Len() > 0 {
			p.err = fmt.Errorf("%w; output: %s", p.err, bytes.TrimSpace(out.Bytes()))
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if err := p.wait(10 * time.Second); err != nil && !errors.Is(err, errStillRunning) {
			t.Logf("%s: %v", name, err)
		}
	})
	return p
}

var errStillRunning = errors.New("still running")

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the client to shut down gracefully (it then sends "stopped").
func (p *proc) stop() {
	if !p.exited() {
		p.cmd.Process.Signal(syscall.SIGINT)
	}
}

// wait reaps the process, killing it if it outlives d.
func (p *proc) wait(d time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%w after %s: killed", errStillRunning, d)
	}
}

func (p *proc) logTail() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return err.Error()
	}
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}
