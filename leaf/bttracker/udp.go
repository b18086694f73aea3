package bttracker

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"syscall"
	"time"
)

// BEP 15 constants.
const (
	udpProtocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	udpHeaderLen       = 16 // connection_id, action, transaction_id
	udpAnnounceLen     = 98
	udpReadBuffer      = 2048
	maxUDPPayloadIPv4  = 1500 - 20 - 8 // one Ethernet frame
	maxUDPPayloadIPv6  = 1280 - 40 - 8 // IPv6 minimum MTU, never fragmented
	udpAnnounceRespHdr = 20
)

// connIDWindows is how many time windows a connection ID stays valid after the
// one it was issued in; a window is UDPConnectionIDTTL/connIDWindows long.
const connIDWindows = 4

// connIDs makes and checks BEP 15 connection IDs without per-client state.
// An ID is
//
//	byte 0:    the low 8 bits of the time window it was issued in
//	bytes 1–7: HMAC-SHA256(secret, window ‖ client IP)[:7]
//
// It is accepted while the current window is at most connIDWindows after the
// issuing one, so it lives between UDPConnectionIDTTL and 1.25× that. The
// low window byte picks the single candidate window, so a check costs one
// HMAC. Only the client's IP is bound (not its port), as NATs may move
// ports between connect and announce; forging an ID for an IP one cannot
// receive at takes about 2^55 guesses.
type connIDs struct {
	key    []byte
	window time.Duration
}

func (c *connIDs) windowAt(t time.Time) uint64 {
	return uint64(t.UnixNano() / int64(c.window))
}

func (c *connIDs) mac(w uint64, ip netip.Addr) uint64 {
	var msg [8 + 16]byte
	binary.BigEndian.PutUint64(msg[:8], w)
	a := ip.As16()
	copy(msg[8:], a[:])
	h := hmac.New(sha256.New, c.key)
	h.Write(msg[:])
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	sum[0] = byte(w)
	return binary.BigEndian.Uint64(sum[:8])
}

func (c *connIDs) issue(ip netip.Addr, now time.Time) uint64 {
	return c.mac(c.windowAt(now), ip)
}

func (c *connIDs) valid(id uint64, ip netip.Addr, now time.Time) bool {
	cur := c.windowAt(now)
	for age := uint64(0); age <= connIDWindows; age++ {
		w := cur - age
		if byte(w) != byte(id>>56) {
			continue
		}
		var got, want [8]byte
		binary.BigEndian.PutUint64(got[:], id)
		binary.BigEndian.PutUint64(want[:], c.mac(w, ip))
		return hmac.Equal(got[:], want[:])
	}
	return false
}

// UDPServer serves BEP 15 on one net.PacketConn. Make it with
// Frontend.NewUDPServer, run Serve, and stop it by cancelling Serve's context
// or calling Close.
type UDPServer struct {
	f    *Frontend
	conn net.PacketConn
	sem  chan struct{}

	mu      sync.Mutex
	closed  bool
	serving bool
	closing chan struct{}
	cancel  context.CancelFunc // cancels the running Serve's handlers
	wg      sync.WaitGroup     // Serve itself (its handlers finish first)
}

// NewUDPServer returns a UDPServer answering on conn. The UDPServer owns conn:
// Close closes it.
func (f *Frontend) NewUDPServer(conn net.PacketConn) *UDPServer {
	return &UDPServer{
		f:       f,
		conn:    conn,
		sem:     make(chan struct{}, f.cfg.UDPMaxInFlight),
		closing: make(chan struct{}),
	}
}

// LocalAddr returns the address the server receives on.
func (u *UDPServer) LocalAddr() net.Addr { return u.conn.LocalAddr() }

// ErrServerClosed is returned by Serve after Close, and by Serve when called
// twice.
var ErrServerClosed = errors.New("bttracker: server closed")

// Serve reads and answers packets until ctx is cancelled (it returns nil),
// Close is called (ErrServerClosed) or the socket fails (that error). Before
// returning it waits for the packets being handled. Serve may be called only
// once.
func (u *UDPServer) Serve(ctx context.Context) error {
	u.mu.Lock()
	if u.closed || u.serving {
		u.mu.Unlock()
		return ErrServerClosed
	}
	u.serving = true
	u.wg.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	u.cancel = cancel
	u.mu.Unlock()
	defer u.wg.Done()
	defer cancel()

	// Unblock ReadFrom when ctx ends; the deadline stays in the past.
	stop := context.AfterFunc(ctx, func() { u.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var handlers sync.WaitGroup
	defer handlers.Wait()

	buf := make([]byte, udpReadBuffer)
	for {
		n, addr, err := u.conn.ReadFrom(buf)
		if err != nil {
			switch {
			case u.isClosed():
				return ErrServerClosed
			case ctx.Err() != nil:
				return nil
			case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED):
				continue // ICMP errors reported on the socket (Windows); harmless
			}
			return fmt.Errorf("bttracker: udp read: %w", err)
		}
		from, ok := addrPort(addr)
		if !ok {
			continue
		}
		select {
		case u.sem <- struct{}{}:
		case <-ctx.Done():
			return nil
		case <-u.closing:
			return ErrServerClosed
		}
		pkt := append([]byte(nil), buf[:n]...)
		handlers.Go(func() {
			defer func() { <-u.sem }()
			u.handle(ctx, pkt, addr, from)
		})
	}
}

func (u *UDPServer) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

func (u *UDPServer) handle(ctx context.Context, pkt []byte, addr net.Addr, from netip.AddrPort) {
	defer func() {
		if r := recover(); r != nil {
			u.f.cfg.Logger.Error("bttracker: panic handling udp packet", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	resp := u.f.handleUDPPacket(ctx, pkt, from)
	if resp != nil {
		if _, err := u.conn.WriteTo(resp, addr); err != nil && ctx.Err() == nil && !u.isClosed() {
			u.f.cfg.Logger.Debug("bttracker: udp write", "to", addr, "err", err)
		}
	}
}

// Close stops Serve, closes the socket and waits until Serve and every packet
// handler have returned. It is safe to call more than once.
func (u *UDPServer) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		u.wg.Wait()
		return nil
	}
	u.closed = true
	close(u.closing)
	if u.cancel != nil {
		u.cancel() // abort in-flight Tracker calls
	}
	u.mu.Unlock()
	err := u.conn.Close()
	u.wg.Wait()
	return err
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	var ap netip.AddrPort
	if ua, ok := a.(*net.UDPAddr); ok {
		ap = ua.AddrPort()
	} else {
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return ap, false
		}
	}
	ip := ap.Addr().Unmap().WithZone("")
	if !ip.IsValid() {
		return ap, false
	}
	return netip.AddrPortFrom(ip, ap.Port()), true
}

// handleUDPPacket answers one BEP 15 packet from the given (unmapped) source.
// It returns nil when no answer should be sent: packets too short to carry a
// transaction ID are dropped, since a reply could not be matched anyway.
func (f *Frontend) handleUDPPacket(ctx context.Context, pkt []byte, from netip.AddrPort) []byte {
	if len(pkt) < udpHeaderLen {
		return nil
	}
	connID := binary.BigEndian.Uint64(pkt[0:8])
	action := binary.BigEndian.Uint32(pkt[8:12])
	tid := binary.BigEndian.Uint32(pkt[12:16])
	now := f.cfg.Now()

	switch action {
	case actionConnect:
		if connID != udpProtocolID {
			return udpError(tid, "bad protocol id")
		}
		out := make([]byte, 16)
		binary.BigEndian.PutUint32(out[0:4], actionConnect)
		binary.BigEndian.PutUint32(out[4:8], tid)
		binary.BigEndian.PutUint64(out[8:16], f.connID.issue(from.Addr(), now))
		return out
	case actionAnnounce, actionScrape:
		if !f.connID.valid(connID, from.Addr(), now) {
			kind := KindAnnounce
			if action == actionScrape {
				kind = KindScrape
			}
			f.observe(RequestInfo{Protocol: ProtocolUDP, Kind: kind, Result: ResultInvalid})
			return udpError(tid, "invalid or expired connection id")
		}
		if action == actionAnnounce {
			return f.udpAnnounce(ctx, pkt, tid, from)
		}
		return f.udpScrape(ctx, pkt, tid)
	default:
		return udpError(tid, "unknown action")
	}
}

func udpError(tid uint32, msg string) []byte {
	out := make([]byte, 8, 8+len(msg))
	binary.BigEndian.PutUint32(out[0:4], actionError)
	binary.BigEndian.PutUint32(out[4:8], tid)
	return append(out, msg...)
}

func (f *Frontend) udpFailure(tid uint32, err error) []byte {
	msg, internal := clientMessage(err)
	if internal {
		f.cfg.Logger.Warn("bttracker: udp request failed", "err", err)
	}
	return udpError(tid, msg)
}

// parseUDPAnnounce decodes a BEP 15 announce (trailing BEP 41 options are
// ignored).
func (f *Frontend) parseUDPAnnounce(pkt []byte, from netip.AddrPort) (AnnounceRequest, error) {
	var req AnnounceRequest
	if len(pkt) < udpAnnounceLen {
		return req, ClientError("truncated announce")
	}
	copy(req.InfoHash[:], pkt[16:36])
	copy(req.PeerID[:], pkt[36:56])
	req.Downloaded = binary.BigEndian.Uint64(pkt[56:64])
	req.Left = binary.BigEndian.Uint64(pkt[64:72])
	req.Uploaded = binary.BigEndian.Uint64(pkt[72:80])
	ev := binary.BigEndian.Uint32(pkt[80:84])
	if ev > uint32(EventStopped) {
		return req, ClientError("invalid event")
	}
	req.Event = Event(ev)
	req.RemoteIP = from.Addr()
	req.IP = from.Addr()
	if ip := netip.AddrFrom4([4]byte(pkt[84:88])); from.Addr().Is4() && !f.cfg.IgnoreIPParam && usableIP(ip) {
		req.IP = ip
	}
	// pkt[88:92] is the key, unused.
	req.NumWant = f.clampNumWant(int64(int32(binary.BigEndian.Uint32(pkt[92:96]))))
	req.Port = binary.BigEndian.Uint16(pkt[96:98])
	if req.Port == 0 && req.Event != EventStopped {
		return req, ClientError("invalid port")
	}
	req.Compact = true
	req.NoPeerID = true
	return req, nil
}

func (f *Frontend) udpAnnounce(ctx context.Context, pkt []byte, tid uint32, from netip.AddrPort) []byte {
	info := RequestInfo{Protocol: ProtocolUDP, Kind: KindAnnounce}
	req, err := f.parseUDPAnnounce(pkt, from)
	if err != nil {
		info.Result = ResultInvalid
		f.observe(info)
		return udpError(tid, err.Error())
	}
	info.Event = req.Event
	resp, err := f.announce(ctx, req)
	if err != nil {
		info.Result = resultOf(err)
		f.observe(info)
		return f.udpFailure(tid, err)
	}
	defer func() { f.observe(info) }()
	info.Result, info.Seeders, info.Leechers = ResultOK, resp.Complete, resp.Incomplete
	interval := resp.Interval
	if interval <= 0 {
		interval = f.cfg.Interval
	}
	// The response carries peers of the client's own address family only
	// (BEP 15: 6-byte IPv4 entries, 18-byte entries over IPv6), as many as
	// fit in one unfragmented datagram.
	v6 := from.Addr().Is6()
	entry, maxLen := 6, maxUDPPayloadIPv4
	if v6 {
		entry, maxLen = 18, maxUDPPayloadIPv6
	}
	limit := min(req.NumWant, (maxLen-udpAnnounceRespHdr)/entry)
	out := make([]byte, udpAnnounceRespHdr, udpAnnounceRespHdr+entry*min(limit, len(resp.Peers)))
	binary.BigEndian.PutUint32(out[0:4], actionAnnounce)
	binary.BigEndian.PutUint32(out[4:8], tid)
	binary.BigEndian.PutUint32(out[8:12], clampU32(seconds(interval)))
	binary.BigEndian.PutUint32(out[12:16], clampU32(int64(resp.Incomplete)))
	binary.BigEndian.PutUint32(out[16:20], clampU32(int64(resp.Complete)))
	n := 0
	for _, p := range validPeers(resp.Peers, len(resp.Peers)) {
		if n >= limit {
			break
		}
		if p.IP.Is6() != v6 {
			continue
		}
		out = appendCompact(out, p)
		n++
	}
	info.Peers = n
	return out
}

func (f *Frontend) udpScrape(ctx context.Context, pkt []byte, tid uint32) []byte {
	info := RequestInfo{Protocol: ProtocolUDP, Kind: KindScrape, Result: ResultInvalid}
	defer func() { f.observe(info) }()
	body := pkt[udpHeaderLen:]
	if len(body) == 0 || len(body)%20 != 0 {
		return udpError(tid, "malformed scrape")
	}
	if len(body)/20 > f.cfg.MaxScrapeInfoHashes {
		return udpError(tid, "too many info_hashes")
	}
	info.InfoHashes = len(body) / 20
	// Deduplicate for the Tracker, then answer once per requested hash.
	var hashes []InfoHash
	index := map[InfoHash]int{}
	order := make([]int, 0, len(body)/20)
	for i := 0; i < len(body); i += 20 {
		h := InfoHash(body[i : i+20])
		j, ok := index[h]
		if !ok {
			j = len(hashes)
			index[h] = j
			hashes = append(hashes, h)
		}
		order = append(order, j)
	}
	ctx, cancel := f.trackerContext(ctx)
	defer cancel()
	stats, err := f.scrape(ctx, hashes)
	if err != nil {
		info.Result = resultOf(err)
		return f.udpFailure(tid, err)
	}
	info.Result = ResultOK
	out := make([]byte, 8, 8+12*len(order))
	binary.BigEndian.PutUint32(out[0:4], actionScrape)
	binary.BigEndian.PutUint32(out[4:8], tid)
	for _, j := range order {
		s := stats[j]
		out = binary.BigEndian.AppendUint32(out, clampU32(int64(s.Complete)))
		out = binary.BigEndian.AppendUint32(out, clampU32(int64(s.Downloaded)))
		out = binary.BigEndian.AppendUint32(out, clampU32(int64(s.Incomplete)))
	}
	return out
}

func clampU32(n int64) uint32 {
	switch {
	case n < 0:
		return 0
	case n > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(n)
}
