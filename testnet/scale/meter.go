package scale

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// Traffic classes counted per node. Mocknet has no byte counters of its
// own, so every host a design uses is wrapped (countingHost) and every
// stream opened or accepted through it counts what it reads and writes:
// the application bytes of each protocol (no TCP/TLS/yamux framing,
// which mocknet does not have either).
const (
	classKad   = iota // kad-dht RPCs (overlay supernodes, flat DHT)
	classLeaf         // leaf ↔ supernode protocol
	classPeer         // supernode ↔ supernode (membership, replication, one-hop lookups)
	classPing         // libp2p ping (leaves' RTT measurement)
	classOther        // anything else (probes, …)
	nClasses
)

var classNames = [nClasses]string{"kad", "leaf", "peer", "ping", "other"}

func classify(p protocol.ID) int {
	s := string(p)
	switch {
	case strings.HasSuffix(s, "/kad/1.0.0"):
		return classKad
	case strings.Contains(s, "/leaf/"):
		return classLeaf
	case strings.Contains(s, "/peer/"), strings.Contains(s, "/replicate/"):
		return classPeer
	case strings.HasPrefix(s, "/ipfs/ping/"):
		return classPing
	}
	return classOther
}

// trafficMeter counts one node's bytes in and out by class.
type trafficMeter struct {
	in, out [nClasses]atomic.Int64
}

// Traffic is a snapshot of a meter.
type Traffic struct {
	In, Out [nClasses]int64
}

func (m *trafficMeter) snapshot() Traffic {
	var t Traffic
	for c := range nClasses {
		t.In[c], t.Out[c] = m.in[c].Load(), m.out[c].Load()
	}
	return t
}

// Total is every byte in and out.
func (t Traffic) Total() int64 {
	var s int64
	for c := range nClasses {
		s += t.In[c] + t.Out[c]
	}
	return s
}

// Sub is t - u.
func (t Traffic) Sub(u Traffic) Traffic {
	for c := range nClasses {
		t.In[c] -= u.In[c]
		t.Out[c] -= u.Out[c]
	}
	return t
}

// countingHost is a host whose streams count their bytes.
type countingHost struct {
	host.Host
	m *trafficMeter
}

func (h *countingHost) wrap(s network.Stream, p protocol.ID) network.Stream {
	if p == "" {
		p = s.Protocol()
	}
	return &countingStream{Stream: s, m: h.m, c: classify(p)}
}

func (h *countingHost) NewStream(ctx context.Context, p peerID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	proto := s.Protocol()
	if proto == "" && len(pids) > 0 {
		proto = pids[0]
	}
	return h.wrap(s, proto), nil
}

func (h *countingHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, func(s network.Stream) { handler(h.wrap(s, pid)) })
}

func (h *countingHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, func(s network.Stream) { handler(h.wrap(s, pid)) })
}

// countingStream counts the bytes read and written on a stream.
type countingStream struct {
	network.Stream
	m *trafficMeter
	c int
}

func (s *countingStream) Read(b []byte) (int, error) {
	n, err := s.Stream.Read(b)
	s.m.in[s.c].Add(int64(n))
	return n, err
}

func (s *countingStream) Write(b []byte) (int, error) {
	n, err := s.Stream.Write(b)
	s.m.out[s.c].Add(int64(n))
	return n, err
}
