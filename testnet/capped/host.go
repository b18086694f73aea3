package capped

import (
	"context"
	"encoding/binary"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol"
)

// WrapHost returns h with every stream of the leaf protocol that a
// supernode serves passing its lookups through srv: when a lookup request
// has been read, the next response write waits for its service. Other
// requests (heartbeats, attaches, announces) are not capped: the paper's λ
// counts lookups. Everything else about h is unchanged, so the node can run
// its usual code on it (runner.New, supernode.New).
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

// cappedStream tracks the request frames read from a leaf and delays the
// response to each lookup until the server has served it.
type cappedStream struct {
	network.Stream
	srv    *Server
	limits protocol.Limits

	mu      sync.Mutex
	buf     []byte // bytes of the request frame being read
	lost    bool   // framing lost (oversized): stop capping this stream
	pending int    // lookups read and not yet answered
}

func (s *cappedStream) Read(b []byte) (int, error) {
	n, err := s.Stream.Read(b)
	if n > 0 {
		s.track(b[:n])
	}
	return n, err
}

// track appends read bytes and counts every complete lookup frame.
func (s *cappedStream) track(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost {
		return
	}
	s.buf = append(s.buf, b...)
	for {
		size, k := binary.Uvarint(s.buf)
		if k == 0 {
			return // need more bytes
		}
		if k < 0 || size > uint64(s.limits.MaxMessageSize) {
			s.lost, s.buf = true, nil
			return
		}
		if uint64(len(s.buf)-k) < size {
			if len(s.buf) > s.limits.MaxMessageSize+binary.MaxVarintLen64 {
				s.lost, s.buf = true, nil
			}
			return
		}
		frame := s.buf[k : k+int(size)]
		if req, err := s.limits.DecodeRequest(frame); err == nil && protocol.RequestKind(req) == "lookup" {
			s.pending++
		}
		s.buf = append(s.buf[:0], s.buf[k+int(size):]...)
	}
}

func (s *cappedStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	wait := s.pending > 0
	if wait {
		s.pending--
	}
	s.mu.Unlock()
	if wait {
		_ = s.srv.Serve(context.Background())
	}
	return s.Stream.Write(b)
}
