package traffic

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// ByteCounter is a libp2p metrics.Reporter that keeps byte totals only:
// overall and per protocol, with no rates and nothing per peer. libp2p's
// BandwidthCounter keeps a go-flow-metrics meter per protocol and per peer,
// and their shared sweeper wakes the process every second to update the
// rates: on an idle leaf that was one of the few things left running. A
// leaf's status shows totals (Status reads TotalIn/TotalOut only), so the
// leaf uses this instead. Protocols are few (the ones the host negotiated),
// so the map stays small. The zero value is ready and safe for concurrent
// use.
type ByteCounter struct {
	in, out atomic.Int64
	protos  sync.Map // protocol.ID → *pair
}

type pair struct{ in, out atomic.Int64 }

var _ metrics.Reporter = (*ByteCounter)(nil)

func (c *ByteCounter) proto(p protocol.ID) *pair {
	if v, ok := c.protos.Load(p); ok {
		return v.(*pair)
	}
	v, _ := c.protos.LoadOrStore(p, &pair{})
	return v.(*pair)
}

// LogSentMessage counts bytes sent on a connection.
func (c *ByteCounter) LogSentMessage(n int64) { c.out.Add(n) }

// LogRecvMessage counts bytes received on a connection.
func (c *ByteCounter) LogRecvMessage(n int64) { c.in.Add(n) }

// LogSentMessageStream counts bytes sent on a stream of protocol p.
func (c *ByteCounter) LogSentMessageStream(n int64, p protocol.ID, _ peer.ID) {
	c.proto(p).out.Add(n)
}

// LogRecvMessageStream counts bytes received on a stream of protocol p.
func (c *ByteCounter) LogRecvMessageStream(n int64, p protocol.ID, _ peer.ID) {
	c.proto(p).in.Add(n)
}

// GetBandwidthForPeer is not kept (zero): a leaf shows no per-peer traffic.
func (c *ByteCounter) GetBandwidthForPeer(peer.ID) metrics.Stats { return metrics.Stats{} }

// GetBandwidthForProtocol returns p's totals (no rates).
func (c *ByteCounter) GetBandwidthForProtocol(p protocol.ID) metrics.Stats {
	v, ok := c.protos.Load(p)
	if !ok {
		return metrics.Stats{}
	}
	pr := v.(*pair)
	return metrics.Stats{TotalIn: pr.in.Load(), TotalOut: pr.out.Load()}
}

// GetBandwidthTotals returns the totals over every connection (no rates).
func (c *ByteCounter) GetBandwidthTotals() metrics.Stats {
	return metrics.Stats{TotalIn: c.in.Load(), TotalOut: c.out.Load()}
}

// GetBandwidthByPeer is not kept (empty).
func (c *ByteCounter) GetBandwidthByPeer() map[peer.ID]metrics.Stats { return nil }

// GetBandwidthByProtocol returns every protocol's totals (no rates).
func (c *ByteCounter) GetBandwidthByProtocol() map[protocol.ID]metrics.Stats {
	out := make(map[protocol.ID]metrics.Stats)
	c.protos.Range(func(k, v any) bool {
		pr := v.(*pair)
		out[k.(protocol.ID)] = metrics.Stats{TotalIn: pr.in.Load(), TotalOut: pr.out.Load()}
		return true
	})
	return out
}

// Reset zeroes every total.
func (c *ByteCounter) Reset() {
	c.in.Store(0)
	c.out.Store(0)
	c.protos.Clear()
}

// TrimIdle keeps nothing per peer or over time: there is nothing to trim.
func (c *ByteCounter) TrimIdle(time.Time) {}
