package capped

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// WrapHost returns h with every stream of the leaf protocol that a
// supernode serves passing its lookups through srv. The stream hands the
// supernode whole request frames: a lookup reaches it when its service
// begins (its wait in the queue passes before, as in a server whose queue
// is its socket), and its answer leaves when the service ends; a lookup
// the full queue turns away never reaches it and is answered at once with
// RATE_LIMITED (lost, as in the paper's M/M/1/h). So the supernode's own
// load meter, which times a request from its read to its answer, sees the
// service time, ρ = λ/μ, and not the time in system (the mean number in
// system, ρ/(1−ρ), which would make the election promote far too early).
// Other requests (heartbeats, attaches, announces) are not capped: the
// paper's λ counts lookups. The leaf protocol has one request in flight
// per stream, and the supernode answers on the goroutine that reads. All
// else about h is unchanged, so the node runs its usual code on it
// (runner.New, supernode.New).
func WrapHost(h host.Host, srv *Server, limits protocol.Limits) host.Host {
	return &cappedHost{Host: h, srv: srv, limits: limits}
}

type cappedHost struct {
	host.Host
	srv    *Server
	limits protocol.Limits
}

func (c *cappedHost) SetStreamHandler(pid libp2pprotocol.ID, handler network.StreamHandler) {
	if pid != protocol.LeafProtocol {
		c.Host.SetStreamHandler(pid, handler)
		return
	}
	c.Host.SetStreamHandler(pid, func(s network.Stream) {
		handler(&cappedStream{Stream: s, srv: c.srv, limits: c.limits})
	})
}

// cappedStream reads whole request frames from the leaf, queues lookups on
// the server, and delays each lookup's answer until its service ends.
type cappedStream struct {
	network.Stream
	srv    *Server
	limits protocol.Limits

	mu    sync.Mutex
	in    []byte      // bytes read from the leaf, not yet a whole frame
	out   []byte      // whole frames for the supernode, not yet read by it
	lost  bool        // framing lost (oversized): pass bytes through
	rerr  error       // the underlying read's error, after out drains
	dones []time.Time // service ends of the lookups handed over, not yet answered
}

func (s *cappedStream) Read(b []byte) (int, error) {
	for {
		s.mu.Lock()
		if len(s.out) > 0 {
			n := copy(b, s.out)
			s.out = s.out[n:]
			s.mu.Unlock()
			return n, nil
		}
		if s.rerr != nil {
			err := s.rerr
			s.mu.Unlock()
			return 0, err
		}
		s.mu.Unlock()
		buf := make([]byte, max(len(b), 4096))
		n, err := s.Stream.Read(buf)
		begin := s.take(buf[:n], err)
		// The lookup waits in the queue before the supernode sees it.
		_ = SleepUntil(context.Background(), begin)
	}
}

// take adds read bytes, moves every whole frame to out (queueing lookups,
// answering those turned away) and returns when the last queued lookup's
// service begins.
func (s *cappedStream) take(b []byte, rerr error) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rerr != nil {
		s.rerr = rerr
	}
	if s.lost {
		s.out = append(s.out, b...)
		return time.Time{}
	}
	s.in = append(s.in, b...)
	var begin time.Time
	for {
		size, k := binary.Uvarint(s.in)
		if k == 0 {
			break // need more bytes
		}
		if k < 0 || size > uint64(s.limits.MaxMessageSize) {
			// Let the supernode see the bad length and answer it.
			s.lost, s.out, s.in = true, append(s.out, s.in...), nil
			break
		}
		if uint64(len(s.in)-k) < size {
			break
		}
		end := k + int(size)
		frame := s.in[:end]
		if req, err := s.limits.DecodeRequest(frame[k:]); err == nil && protocol.RequestKind(req) == "lookup" && s.srv != nil {
			b, done, ok := s.srv.Enqueue()
			if !ok {
				// Lost: answered here, never handed over. No one else
				// writes: the supernode is waiting in Read.
				_ = protocol.WriteMsg(s.Stream, &pb.Response{Id: req.Id, Status: pb.Status_RATE_LIMITED, Error: "service cap: queue full"})
				s.in = s.in[end:]
				continue
			}
			begin = b
			s.dones = append(s.dones, done)
		}
		s.out = append(s.out, frame...)
		s.in = s.in[end:]
	}
	if len(s.in) == 0 {
		s.in = nil
	}
	return begin
}

func (s *cappedStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	var done time.Time
	if len(s.dones) > 0 {
		done, s.dones = s.dones[0], s.dones[1:]
	}
	s.mu.Unlock()
	_ = SleepUntil(context.Background(), done)
	return s.Stream.Write(b)
}
