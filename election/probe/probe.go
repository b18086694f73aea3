package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// ErrUnreachable: no dial-back address answered.
var ErrUnreachable = errors.New("probe: not reachable by dial-back")

// multistreamHeader is what a libp2p listener sends first on a new
// connection (multistream-select: varint length, "/multistream/1.0.0\n").
var multistreamHeader = append([]byte{19}, "/multistream/1.0.0\n"...)

// Answers is what a Server tells load probes. Every function may be nil.
type Answers struct {
	// Load: the node's load; nil while it is not a supernode.
	Load func() *pb.Load
	// Supernodes: the supernodes the node knows (Gnutella's
	// X-Try-Ultrapeers); at most limits.MaxSupernodeResults are sent.
	Supernodes func() []peer.AddrInfo
	// Candidates: pending promotions, the node's own first; at most
	// protocol.MaxCandidates are sent.
	Candidates func() []Candidacy
}

// Candidacy is a leaf with a promotion pending, as a load probe's answer
// carries it.
type Candidacy = protocol.Candidacy

// Answer is a load probe's answer, validated.
type Answer struct {
	// Load is nil when the peer is not a supernode.
	Load       *pb.Load
	Supernodes []peer.AddrInfo
	Candidates []Candidacy
}

// Server answers probes on a host.
type Server struct {
	h      host.Host
	limits protocol.Limits
	ans    Answers
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewServer serves ProbeProtocol on h, answering load probes with ans.
func NewServer(h host.Host, limits protocol.Limits, ans Answers) *Server {
	s := &Server{h: h, limits: limits, ans: ans}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	h.SetStreamHandler(protocol.ProbeProtocol, s.handle)
	return s
}

// Close stops serving and waits for running probes.
func (s *Server) Close() {
	s.h.RemoveStreamHandler(protocol.ProbeProtocol)
	s.cancel()
	s.wg.Wait()
}

func (s *Server) handle(st network.Stream) {
	s.wg.Add(1)
	defer s.wg.Done()
	_ = st.SetDeadline(time.Now().Add(protocol.MaxProbeDurationMs*time.Millisecond + 10*time.Second))
	r := s.limits.NewReader(st)
	frame, err := r.ReadFrame()
	if err != nil {
		st.Reset()
		return
	}
	resp := &pb.ProbeResponse{}
	req, err := s.limits.DecodeProbeRequest(frame)
	switch {
	case err != nil:
		resp.Status, resp.Error = protocol.StatusOf(err), s.limits.Truncate(err.Error())
	case req.GetBandwidth() != nil:
		resp.Bytes, resp.ElapsedUs, err = sink(r.Raw(), int64(req.GetBandwidth().GetMaxBytes()))
		if err != nil {
			st.Reset()
			return
		}
	case req.GetDialBack() != nil:
		addrs, _ := s.limits.AddrsFromBytes(req.GetDialBack().GetAddrs()) // validated
		if a := s.dialBack(st.Conn().RemoteMultiaddr(), addrs); a != nil {
			resp.Reachable, resp.DialedAddr = true, a.Bytes()
		}
	case req.GetLoad() != nil:
		s.answerLoad(resp)
	}
	if err := protocol.WriteMsg(st, resp); err != nil {
		st.Reset()
		return
	}
	st.Close()
}

// answerLoad fills a load probe's answer from s.ans, within the limits.
func (s *Server) answerLoad(resp *pb.ProbeResponse) {
	if s.ans.Load != nil {
		resp.Load = s.ans.Load()
	}
	if s.ans.Supernodes != nil {
		for _, ai := range s.ans.Supernodes() {
			if len(resp.Supernodes) == s.limits.MaxSupernodeResults {
				break
			}
			if len(ai.Addrs) > 0 {
				resp.Supernodes = append(resp.Supernodes, s.limits.PeerToPB(ai))
			}
		}
	}
	if s.ans.Candidates != nil {
		for _, c := range s.ans.Candidates() {
			if len(resp.Candidates) == protocol.MaxCandidates {
				break
			}
			if !(c.Score >= 0 && c.Score <= 1) || c.Age < 0 || c.Age.Milliseconds() > protocol.MaxCandidateAgeMs {
				continue
			}
			resp.Candidates = append(resp.Candidates, &pb.Candidate{Peer: s.limits.PeerToPB(c.Peer), Score: c.Score, AgeMs: uint32(c.Age.Milliseconds())})
		}
	}
}

// sink reads the probe's filler to EOF and times first to last byte.
func sink(r io.Reader, max int64) (uint64, int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	var first, last time.Time
	for {
		m, err := r.Read(buf)
		if m > 0 {
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			last = now
			n += int64(m)
			if n > max {
				return 0, 0, fmt.Errorf("%w: probe sent more than announced", protocol.ErrOverLimit)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, 0, err
		}
	}
	return uint64(n), last.Sub(first).Microseconds(), nil
}

// dialBack opens a new TCP connection to each address at the requester's
// own IP and returns the first whose libp2p listener answered.
func (s *Server) dialBack(remote ma.Multiaddr, addrs []ma.Multiaddr) ma.Multiaddr {
	rip, err := manet.ToIP(remote)
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		na, err := manet.ToNetAddr(a)
		if err != nil {
			continue
		}
		tcp, ok := na.(*net.TCPAddr)
		if !ok || !dialBackAllowed(rip, tcp.IP) {
			continue // only TCP, only the requester's own IP
		}
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(s.ctx, "tcp", tcp.String())
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		got := make([]byte, len(multistreamHeader))
		_, err = io.ReadFull(c, got)
		c.Close()
		if err == nil && bytes.Equal(got, multistreamHeader) {
			return a
		}
	}
	return nil
}

// dialBackAllowed: a dial-back goes only to the IP the request came from,
// so no one can aim it at a third host. On loopback the kernel picks
// 127.0.0.1 as the source of a connection that was not bound to its
// listen address (libp2p's TCP without port reuse), so a node on
// 127.0.0.5 asks from 127.0.0.1: between loopback addresses any is the
// same host, and the dial-back cannot leave it.
func dialBackAllowed(from, target net.IP) bool {
	return target.Equal(from) || (from.IsLoopback() && target.IsLoopback())
}

func call(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits, req *pb.ProbeRequest, after func(io.Writer) error) (resp *protocol.ProbeResponse, err error) {
	st, err := h.NewStream(ctx, p, protocol.ProbeProtocol)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Reset()
		} else {
			st.Close()
		}
	}()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetDeadline(dl)
	}
	if err := protocol.WriteMsg(st, req); err != nil {
		return nil, err
	}
	if after != nil {
		if err := after(st); err != nil {
			return nil, err
		}
	}
	if err := st.CloseWrite(); err != nil {
		return nil, err
	}
	frame, err := limits.NewReader(st).ReadFrame()
	if err != nil {
		return nil, err
	}
	resp, err = limits.DecodeProbeResponse(frame)
	if err != nil {
		return nil, err
	}
	return resp, protocol.ResponseError(resp.Status, resp.Error)
}

// MeasureUpload streams filler to p for at most maxBytes or d through lim
// (the node's --bandwidth-limit; nil: none) and returns the upload rate in
// bytes per second as p timed it.
func MeasureUpload(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits, lim *rate.Limiter, maxBytes int, d time.Duration) (float64, error) {
	maxBytes = min(maxBytes, protocol.MaxProbeBytes)
	d = min(d, protocol.MaxProbeDurationMs*time.Millisecond)
	req := &pb.ProbeRequest{Body: &pb.ProbeRequest_Bandwidth{Bandwidth: &pb.BandwidthProbe{
		MaxBytes: uint32(maxBytes), DurationMs: uint32(d.Milliseconds())}}}
	resp, err := call(ctx, h, p, limits, req, func(w io.Writer) error {
		tw := traffic.ThrottledWriter{W: w, Lim: lim, Ctx: ctx}
		chunk := make([]byte, 16<<10)
		end := time.Now().Add(d)
		for sent := 0; sent < maxBytes && time.Now().Before(end); {
			n := min(len(chunk), maxBytes-sent)
			if _, err := tw.Write(chunk[:n]); err != nil {
				return err
			}
			sent += n
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("probe: bandwidth to %s: %w", p, err)
	}
	if resp.Bytes == 0 {
		return 0, fmt.Errorf("probe: bandwidth to %s: nothing received", p)
	}
	elapsed := max(time.Duration(resp.ElapsedUs)*time.Microsecond, 100*time.Microsecond)
	return float64(resp.Bytes) / elapsed.Seconds(), nil
}

// DialBack asks p to dial this host back at its listen addresses and
// returns the address that answered, or ErrUnreachable.
func DialBack(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits) (ma.Multiaddr, error) {
	req := &pb.DialBackRequest{}
	for _, a := range h.Addrs() {
		if len(req.Addrs) < limits.MaxAddrsPerPeer {
			req.Addrs = append(req.Addrs, a.Bytes())
		}
	}
	resp, err := call(ctx, h, p, limits, &pb.ProbeRequest{Body: &pb.ProbeRequest_DialBack{DialBack: req}}, nil)
	if err != nil {
		return nil, fmt.Errorf("probe: dial-back by %s: %w", p, err)
	}
	if !resp.Reachable {
		return nil, ErrUnreachable
	}
	a, err := ma.NewMultiaddrBytes(resp.DialedAddr)
	if err != nil {
		return nil, fmt.Errorf("probe: dial-back by %s: %w", p, err)
	}
	return a, nil
}

// QueryLoad asks p for its load (nil if p is not a supernode).
func QueryLoad(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits) (*pb.Load, error) {
	a, err := Query(ctx, h, p, limits)
	return a.Load, err
}

// QueryLoadAndSupernodes asks p for its load (nil if p is not a supernode)
// and the supernodes it knows (validated).
func QueryLoadAndSupernodes(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits) (*pb.Load, []peer.AddrInfo, error) {
	a, err := Query(ctx, h, p, limits)
	return a.Load, a.Supernodes, err
}

// Query asks p for its load, the supernodes it knows and the pending
// promotions it knows of (validated).
func Query(ctx context.Context, h host.Host, p peer.ID, limits protocol.Limits) (Answer, error) {
	resp, err := call(ctx, h, p, limits, &pb.ProbeRequest{Body: &pb.ProbeRequest_Load{Load: &pb.LoadRequest{}}}, nil)
	if err != nil {
		return Answer{}, fmt.Errorf("probe: load of %s: %w", p, err)
	}
	return Answer{Load: resp.Load, Supernodes: resp.KnownSupernodes, Candidates: resp.Candidacies}, nil
}
