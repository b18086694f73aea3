// Package server is the server-design baseline node (the paper's DS+M+U):
// a BitTorrent client that announces to and queries every one of n
// opentracker servers over HTTP, and, on the nodes that host one, the
// opentracker process itself, supervised as a child in the node's process
// group so that it lives and dies with the node. See package baseline.
package server

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf/bttracker/bencode"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/baseline"
	"github.com/supertracker/supertracker/testnet/capped"
)

// Backend implements baseline.Backend for the server design.
type Backend struct {
	cfg    *baseline.Config
	n      *baseline.Node
	id     peer.ID
	addrs  []string
	peerID string // 20-byte BitTorrent peer_id
	client *http.Client

	// hosted tracker (nil if this node hosts none)
	host   *baseline.Server
	ot     *exec.Cmd
	otDone chan struct{}
	otLog  *os.File
	meter  *baseline.LoadMeter
	capSrv *capped.Server // the lookup cap (ServiceRate > 0)
	stop   context.CancelFunc
	stats  *http.Client
	mu     sync.Mutex
	closed bool
}

// New returns the backend; Start does the work.
func New(cfg *baseline.Config) (*Backend, error) { return &Backend{cfg: cfg}, nil }

// Start derives the node's identity from its IP and, if the config lists
// its IP as a server, starts opentracker there and waits until it accepts
// connections.
func (b *Backend) Start(ctx context.Context, n *baseline.Node) error {
	b.n = n
	id, err := baseline.PeerIDForIP(n.IP)
	if err != nil {
		return err
	}
	b.id = id
	b.addrs = []string{fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", n.IP, n.Port, id)}
	sum := sha1.Sum([]byte(n.IP))
	b.peerID = fmt.Sprintf("-ST0001-%x", sum[:6]) // 8 + 12 = 20 bytes
	local := &net.TCPAddr{IP: net.ParseIP(n.IP)}
	b.client = &http.Client{Transport: &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: local, Timeout: 2 * time.Second}).DialContext,
		DisableKeepAlives: true, // opentracker answers and closes
		MaxConnsPerHost:   64,
	}}
	for i := range b.cfg.Servers {
		if b.cfg.Servers[i].IP == n.IP {
			b.host = &b.cfg.Servers[i]
		}
	}
	if b.host == nil {
		return nil
	}
	return b.startTracker(ctx)
}

func (b *Backend) startTracker(ctx context.Context) error {
	s := b.host
	dir := filepath.Join(b.n.DataDir, "opentracker")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.Chmod(dir, 0o755); err != nil { // opentracker may drop to another user
		return err
	}
	wl, err := os.ReadFile(b.cfg.Whitelist)
	if err != nil {
		return fmt.Errorf("whitelist: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "whitelist.txt"), wl, 0o644); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "opentracker.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	b.otLog = logf
	// -u: opentracker refuses to keep root, so as root it chroots into dir
	// (the whitelist path is relative to it) and drops to nobody; as
	// another user it stays that user. (Dropping privileges clears the
	// parent-death signal below; the launcher kills the node's whole
	// process group, which includes the tracker.)
	uname := "nobody"
	if u, err := user.Current(); err == nil && u.Uid != "0" {
		uname = u.Username
	}
	cmd := exec.Command(b.cfg.Opentracker,
		"-i", s.IP, "-p", strconv.Itoa(s.Port),
		"-w", "whitelist.txt", "-d", dir, "-u", uname, "-A", b.cfg.StatsFrom)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Same process group as this node (the launcher kills the group), and
	// SIGKILL if this process dies anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting opentracker (Debian package opentracker): %w", err)
	}
	b.ot = cmd
	b.otDone = make(chan struct{})
	go func() { _ = cmd.Wait(); close(b.otDone) }()
	if err := appendLine(filepath.Join(b.n.DataDir, baseline.PIDsFile), strconv.Itoa(cmd.Process.Pid)); err != nil {
		return err
	}
	addr := net.JoinHostPort(s.IP, strconv.Itoa(s.Port))
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-b.otDone:
			return fmt.Errorf("opentracker exited at start (see %s)", logf.Name())
		case <-deadline.C:
			return fmt.Errorf("opentracker not listening on %s within 10s", addr)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	// opentracker loads the whitelist in a thread of its own: wait until
	// a whitelisted infohash is accepted (an event=stopped announce, which
	// registers nobody) before the node reports ready.
	if err := b.waitWhitelist(ctx, wl, deadline.C); err != nil {
		return err
	}
	b.stats = &http.Client{Timeout: 800 * time.Millisecond, Transport: &http.Transport{
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(b.cfg.StatsFrom)}}).DialContext,
		DisableKeepAlives: true,
	}}
	mctx, stop := context.WithCancel(context.Background())
	b.stop = stop
	var statsCalls int64
	b.meter = &baseline.LoadMeter{PID: cmd.Process.Pid, Count: func() (int64, bool) {
		n, ok := b.connections(mctx)
		if !ok {
			return 0, false
		}
		statsCalls++
		return n - statsCalls, true // our own stats requests are connections too
	}}
	go b.meter.Run(mctx, time.Second)
	if b.cfg.ServiceRate > 0 && s.CapPort > 0 {
		if err := b.startCap(mctx, s); err != nil {
			return err
		}
	}
	// A tracker that dies by itself takes the node down with it, so the
	// launcher sees the failure.
	go func() {
		select {
		case <-b.otDone:
			b.mu.Lock()
			closed := b.closed
			b.mu.Unlock()
			if !closed {
				b.n.Log.Error("opentracker exited by itself", "log", logf.Name())
				_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			}
		case <-mctx.Done():
		}
	}()
	return nil
}

// startCap serves the capped lookup proxy on s.CapPort in front of the
// tracker: lookups (BitTorrent port LookupPort) wait for their service on
// an M/M/1 server of rate ServiceRate; its λ and ρ go to the data dir.
func (b *Backend) startCap(ctx context.Context, s *baseline.Server) error {
	srv, err := capped.NewServer(b.cfg.ServiceRate, uint64(s.Port))
	if err != nil {
		return err
	}
	srv.SetCapacity(b.cfg.ServiceQueue)
	target, err := url.Parse("http://" + net.JoinHostPort(s.IP, strconv.Itoa(s.Port)))
	if err != nil {
		return err
	}
	lookupPort := strconv.Itoa(baseline.LookupPort)
	h := capped.Handler(srv, target, func(r *http.Request) bool { return r.URL.Query().Get("port") == lookupPort })
	ln, err := net.Listen("tcp", net.JoinHostPort(s.IP, strconv.Itoa(s.CapPort)))
	if err != nil {
		return fmt.Errorf("capped proxy: %w", err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() { <-ctx.Done(); _ = hs.Close() }()
	go srv.WriteStats(ctx, b.n.DataDir)
	b.capSrv = srv
	return nil
}

func (b *Backend) waitWhitelist(ctx context.Context, wl []byte, deadline <-chan time.Time) error {
	first, _, _ := strings.Cut(strings.TrimSpace(string(wl)), "\n")
	raw, err := hex.DecodeString(strings.TrimSpace(first))
	if err != nil || len(raw) != 20 {
		return fmt.Errorf("whitelist: first line %q is not a hex infohash", first)
	}
	var ih [20]byte
	copy(ih[:], raw)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		_, err := b.request(ctx, *b.host, ih, 1, 0, 0, "stopped")
		if err == nil {
			return nil
		}
		select {
		case <-b.otDone:
			return fmt.Errorf("opentracker exited at start")
		case <-deadline:
			return fmt.Errorf("opentracker did not accept its whitelist within 10s: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// connections reads opentracker's TCP connection counter (/stats?mode=tcp4,
// first line), which counts every HTTP request it accepted.
func (b *Backend) connections(ctx context.Context) (int64, bool) {
	u := b.host.AnnounceURL()
	u = strings.TrimSuffix(u, "/announce") + "/stats?mode=tcp4"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, false
	}
	resp, err := b.stats.Do(req)
	if err != nil {
		return 0, false
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !sc.Scan() {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(sc.Text()), 10, 64)
	return v, err == nil
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Addrs returns the node's printed address.
func (b *Backend) Addrs() []string { return b.addrs }

// PeerID returns the IP-derived peer ID.
func (b *Backend) PeerID() string { return b.id.String() }

// Status: a node hosting a tracker reports role supernode (it is a tracker
// node) with its tracker's ρ and request rate; the others are leaves whose
// "supernodes" are the tracker URLs.
func (b *Backend) Status(st *baseline.Status) {
	if b.host == nil {
		st.Role = httpapi.RoleLeaf
		for _, s := range b.cfg.Servers {
			st.Supernodes = append(st.Supernodes, s.AnnounceURL())
		}
		return
	}
	st.Role = httpapi.RoleSupernode
	st.ServerPID = b.ot.Process.Pid
	zero := 0
	st.Leaves = &zero
	if b.capSrv != nil { // capped: the lookup server's own λ and ρ
		cs := b.capSrv.Stats()
		st.Rho, st.ReqPerS = &cs.Rho, &cs.Lambda
		return
	}
	if rate, rho, ok := b.meter.Sample(); ok {
		st.Rho, st.ReqPerS = &rho, &rate
	}
}

// Close stops the hosted tracker.
func (b *Backend) Close() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	if b.stop != nil {
		b.stop()
	}
	if b.ot != nil {
		_ = b.ot.Process.Signal(syscall.SIGTERM)
		select {
		case <-b.otDone:
		case <-time.After(time.Second):
			_ = b.ot.Process.Kill()
			<-b.otDone
		}
	}
	if b.otLog != nil {
		b.otLog.Close()
	}
	return nil
}

// Announce announces every CID to every tracker in parallel (port 6881,
// left=0: a seeder). replicas is the smallest number of trackers that took
// one CID; it fails if some CID was taken by none.
func (b *Backend) Announce(ctx context.Context, cids []cid.Cid) (int, error) {
	type res struct {
		i   int
		err error
	}
	n := len(b.cfg.Servers)
	out := make(chan res, len(cids)*n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i, c := range cids {
		ih := baseline.InfoHash(c)
		for _, s := range b.cfg.Servers {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				_, err := b.request(ctx, s, ih, baseline.HolderPort, 0, 0, "")
				out <- res{i, err}
			})
		}
	}
	wg.Wait()
	close(out)
	ok := make([]int, len(cids))
	var errs []error
	for r := range out {
		if r.err == nil {
			ok[r.i]++
		} else if len(errs) < 3 {
			errs = append(errs, r.err)
		}
	}
	replicas := n
	for _, k := range ok {
		replicas = min(replicas, k)
	}
	if replicas == 0 {
		return 0, fmt.Errorf("no tracker took the announce: %w", errors.Join(errs...))
	}
	return replicas, nil
}

// Lookup asks every tracker in parallel (port 6882, left=1, numwant) and
// returns the union of the holders they know (peers on port 6881). With
// Config.LookupFailover it asks one tracker at a time instead, in an order
// shuffled per lookup, moving to the next when one fails (BEP 12's tier),
// and returns the first answer.
func (b *Backend) Lookup(ctx context.Context, c cid.Cid, limit int) ([]httpapi.Holder, baseline.LookupInfo, error) {
	ih := baseline.InfoHash(c)
	type res struct {
		peers []netip
		err   error
	}
	out := make(chan res, len(b.cfg.Servers))
	asked := len(b.cfg.Servers)
	if b.cfg.LookupFailover {
		asked = 1
		var errs []error
		for _, i := range mrand.Perm(len(b.cfg.Servers)) {
			p, err := b.request(ctx, b.cfg.Servers[i], ih, baseline.LookupPort, 1, limit, "")
			if err == nil {
				out <- res{p, nil}
				break
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		if len(out) == 0 {
			out <- res{nil, errors.Join(errs...)}
		}
	} else {
		for _, s := range b.cfg.Servers {
			go func() {
				p, err := b.request(ctx, s, ih, baseline.LookupPort, 1, limit, "")
				out <- res{p, err}
			}()
		}
	}
	var info baseline.LookupInfo
	var errs []error
	seen := map[string]bool{}
	var holders []httpapi.Holder
	for range asked {
		r := <-out
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		info.Trackers++
		for _, p := range r.peers {
			if p.port != baseline.HolderPort || seen[p.ip] || len(holders) >= limit {
				continue
			}
			seen[p.ip] = true
			id, err := baseline.PeerIDForIP(p.ip)
			if err != nil {
				continue
			}
			holders = append(holders, httpapi.Holder{PeerID: id.String(),
				Addrs: []string{fmt.Sprintf("/ip4/%s/tcp/%d/p2p/%s", p.ip, p.port, id)}})
		}
	}
	if info.Trackers == 0 {
		return nil, info, fmt.Errorf("all %d trackers failed: %w", len(b.cfg.Servers), errors.Join(errs...))
	}
	return holders, info, nil
}

type netip struct {
	ip   string
	port int
}

// request sends one BEP 3 HTTP announce and returns the peers.
func (b *Backend) request(ctx context.Context, s baseline.Server, ih [20]byte, port, left, numwant int, event string) ([]netip, error) {
	// Binary fields are %XX-escaped byte by byte: url.Values would write
	// a 0x20 byte as '+', which opentracker reads as 0x2B.
	q := "info_hash=" + EscapeBytes(ih[:]) + "&peer_id=" + EscapeBytes([]byte(b.peerID)) +
		"&port=" + strconv.Itoa(port) + "&uploaded=0&downloaded=0&left=" + strconv.Itoa(left) +
		"&compact=1&numwant=" + strconv.Itoa(numwant)
	if event != "" {
		q += "&event=" + event
	}
	u := s.AnnounceURL()
	if port == baseline.LookupPort {
		u = s.LookupURL()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+q, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// The capped proxy says why (its queue full) in the body.
		return nil, fmt.Errorf("%s: HTTP %d: %s", s.AnnounceURL(), resp.StatusCode, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	v, err := bencode.Decode(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.AnnounceURL(), err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: reply is not a dictionary", s.AnnounceURL())
	}
	if fr, ok := d["failure reason"].(string); ok {
		return nil, fmt.Errorf("%s: %s", s.AnnounceURL(), fr)
	}
	var peers []netip
	switch p := d["peers"].(type) {
	case string: // BEP 23 compact
		for i := 0; i+6 <= len(p); i += 6 {
			ip := net.IPv4(p[i], p[i+1], p[i+2], p[i+3]).String()
			peers = append(peers, netip{ip, int(binary.BigEndian.Uint16([]byte(p[i+4 : i+6])))})
		}
	case []any:
		for _, e := range p {
			pd, ok := e.(map[string]any)
			if !ok {
				continue
			}
			ip, _ := pd["ip"].(string)
			port, _ := pd["port"].(int64)
			peers = append(peers, netip{ip, int(port)})
		}
	}
	return peers, nil
}

// escapeBytes percent-encodes every byte outside RFC 3986's unreserved set.
func EscapeBytes(b []byte) string {
	const hexdig = "0123456789ABCDEF"
	var sb strings.Builder
	for _, c := range b {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '.', c == '_', c == '~':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hexdig[c>>4])
			sb.WriteByte(hexdig[c&15])
		}
	}
	return sb.String()
}
