package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/baseline/server"
)

// ErrTracker is wrapped by every failure an opentracker announce reports.
var ErrTracker = errors.New("opentracker")

// tracker is one opentracker process (the Debian package, which serves only
// whitelisted infohashes) on a loopback address of its own.
type tracker struct {
	cmd  *exec.Cmd
	done chan struct{}
	addr string // 127.x.y.z:PORT
	log  *os.File
}

// torrentHash names synthetic torrent i of a whitelist.
func torrentHash(set string, i int) [20]byte {
	return sha1.Sum([]byte("supertracker-bench/" + set + "/" + strconv.Itoa(i)))
}

// objectHash is the infohash the server design uses for an object's CID.
func objectHash(c cid.Cid) [20]byte { return baseline.InfoHash(c) }

// startTracker starts opentracker in dir (it chroots there as root) with
// the whitelist and waits until it accepts the first whitelisted hash.
func startTracker(ctx context.Context, bin, dir string, whitelist [][20]byte) (*tracker, error) {
	if len(whitelist) == 0 {
		return nil, fmt.Errorf("%w: empty whitelist", ErrTracker)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // opentracker drops to another user
		return nil, err
	}
	var wl bytes.Buffer
	for _, h := range whitelist {
		wl.WriteString(hex.EncodeToString(h[:]))
		wl.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), wl.Bytes(), 0o644); err != nil {
		return nil, err
	}
	// A loopback address of its own: opentracker binds with port reuse,
	// so another package's opentracker (same user, nobody) that drew the
	// same port on 127.0.0.1 would share its connections (seen under
	// make test's parallel packages: "not authorized" for a whitelisted
	// torrent).
	ip := fmt.Sprintf("127.%d.%d.%d", 100+rand.IntN(100), rand.IntN(256), 1+rand.IntN(254))
	port, err := freePort(ip)
	if err != nil {
		return nil, err
	}
	udp, err := freePort(ip)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "opentracker.log"))
	if err != nil {
		return nil, err
	}
	// As root opentracker chroots into -d and must drop to another user;
	// as anyone else it stays that user (see testnet/baseline/server).
	uname := "nobody"
	if u, err := user.Current(); err == nil && u.Uid != "0" {
		uname = u.Username
	}
	cmd := exec.Command(bin, "-i", ip, "-p", strconv.Itoa(port), "-P", strconv.Itoa(udp),
		"-w", "whitelist.txt", "-d", dir, "-u", uname)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%w: starting %s (Debian package opentracker): %w", ErrTracker, bin, err)
	}
	t := &tracker{cmd: cmd, done: make(chan struct{}), addr: net.JoinHostPort(ip, strconv.Itoa(port)), log: logf}
	go func() { _ = cmd.Wait(); close(t.done) }()
	// opentracker loads the whitelist in a thread of its own: poll with an
	// event=stopped announce (it registers nobody) until its first and its
	// last entry are both accepted (the first alone was once accepted
	// while a later one was still refused as "not authorized").
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := t.announce(ctx, whitelist[0], "127.0.0.1", 1, 0, 0, "stopped")
		if err == nil {
			_, err = t.announce(ctx, whitelist[len(whitelist)-1], "127.0.0.1", 1, 0, 0, "stopped")
		}
		if err == nil {
			return t, nil
		}
		select {
		case <-t.done:
			t.close()
			return nil, fmt.Errorf("%w: exited at start (see %s): %w", ErrTracker, logf.Name(), err)
		case <-ctx.Done():
			t.close()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond): // poll interval, bounded by the deadline
		}
		if time.Now().After(deadline) {
			t.close()
			return nil, fmt.Errorf("%w: whitelist not accepted within 20 s: %w", ErrTracker, err)
		}
	}
}

func (t *tracker) pid() int { return t.cmd.Process.Pid }

func (t *tracker) close() {
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(2 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
	t.log.Close()
}

// announce sends one BEP 3 HTTP announce (compact) from source address
// srcIP with the given BitTorrent port, left and numwant, and returns how
// many peers the reply listed. It speaks HTTP/1.0 on a fresh connection, as
// opentracker closes after every reply.
func (t *tracker) announce(ctx context.Context, ih [20]byte, srcIP string, port, left, numwant int, event string) (int, error) {
	// Under a loaded machine opentracker has refused a whitelisted torrent
	// ("not authorized") right after accepting it; such a refusal is
	// retried for up to a second.
	for try := 0; ; try++ {
		n, err := t.announceOnce(ctx, ih, srcIP, port, left, numwant, event)
		if err == nil || try == 20 || !strings.Contains(err.Error(), "not authorized") || ctx.Err() != nil {
			return n, err
		}
		select {
		case <-ctx.Done():
			return n, err
		case <-time.After(50 * time.Millisecond): // retry interval, bounded by the count
		}
	}
}

func (t *tracker) announceOnce(ctx context.Context, ih [20]byte, srcIP string, port, left, numwant int, event string) (int, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(srcIP)}, Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	}
	var q strings.Builder
	q.WriteString("GET /announce?info_hash=")
	q.WriteString(server.EscapeBytes(ih[:]))
	fmt.Fprintf(&q, "&peer_id=-SB0001-%012d", port) // 20 bytes
	fmt.Fprintf(&q, "&port=%d&uploaded=0&downloaded=0&left=%d&compact=1&numwant=%d", port, left, numwant)
	if event != "" {
		q.WriteString("&event=" + event)
	}
	q.WriteString(" HTTP/1.0\r\nHost: " + t.addr + "\r\n\r\n")
	if _, err := io.WriteString(conn, q.String()); err != nil {
		return 0, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("%w: reading status: %w", ErrTracker, err)
	}
	if f := strings.Fields(status); len(f) < 2 || f[1] != "200" {
		return 0, fmt.Errorf("%w: status %q", ErrTracker, strings.TrimSpace(status))
	}
	for { // headers
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("%w: reading headers: %w", ErrTracker, err)
		}
		if line == "\r\n" || line == "\n" {
			break
		}
	}
	body, err := io.ReadAll(io.LimitReader(br, 1<<20))
	if err != nil {
		return 0, err
	}
	v, err := bencode.Decode(body)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrTracker, err)
	}
	dict, ok := v.(map[string]any)
	if !ok {
		return 0, fmt.Errorf("%w: reply is not a dictionary", ErrTracker)
	}
	if fr, ok := dict["failure reason"].(string); ok {
		return 0, fmt.Errorf("%w: %s", ErrTracker, fr)
	}
	peers, _ := dict["peers"].(string)
	return len(peers) / 6, nil
}
