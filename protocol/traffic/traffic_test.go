package traffic_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"golang.org/x/time/rate"

	"github.com/supertracker/supertracker/protocol/traffic"
)

func TestMeterCountsMessagesAndBytesByKey(t *testing.T) {
	var m traffic.Meter
	m.In("leaf/lookup", 10)
	m.In("leaf/lookup", 5)
	m.Out("leaf/lookup", 7)
	m.Out("peer/store", 100)
	got := m.Snapshot()
	if want := (traffic.Counts{MsgsIn: 2, MsgsOut: 1, BytesIn: 15, BytesOut: 7}); got["leaf/lookup"] != want {
		t.Fatalf("leaf/lookup = %+v, want %+v", got["leaf/lookup"], want)
	}
	if want := (traffic.Counts{MsgsOut: 1, BytesOut: 100}); got["peer/store"] != want {
		t.Fatalf("peer/store = %+v, want %+v", got["peer/store"], want)
	}
	st := traffic.Status(got, nil)
	if len(st) != 2 || st["peer/store"].BytesOut != 100 || st["leaf/lookup"].MsgsIn != 2 {
		t.Fatalf("status = %+v", st)
	}
}

func TestThrottledWriterWritesInBurstSizedChunks(t *testing.T) {
	var buf bytes.Buffer
	w := traffic.ThrottledWriter{W: &buf, Lim: rate.NewLimiter(rate.Inf, 3)}
	n, err := w.Write([]byte("0123456789"))
	if err != nil || n != 10 || buf.String() != "0123456789" {
		t.Fatalf("Write = %d, %v; wrote %q", n, err, buf.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := traffic.ThrottledWriter{W: &buf, Lim: rate.NewLimiter(1, 1), Ctx: ctx}
	if _, err := slow.Write([]byte("ab")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Write on a cancelled context = %v, want context.Canceled", err)
	}
}

// ByteCounter keeps the totals Status reads, per protocol and overall, and
// nothing per peer.
func TestByteCounterKeepsTotalsPerProtocol(t *testing.T) {
	var c traffic.ByteCounter
	c.LogSentMessageStream(10, "/a", "p1")
	c.LogSentMessageStream(5, "/a", "p2")
	c.LogRecvMessageStream(7, "/a", "p1")
	c.LogRecvMessageStream(3, "/b", "p1")
	c.LogSentMessage(15)
	c.LogRecvMessage(10)
	if got := c.GetBandwidthForProtocol("/a"); got.TotalOut != 15 || got.TotalIn != 7 {
		t.Fatalf("/a = %+v, want out 15 in 7", got)
	}
	if got := c.GetBandwidthTotals(); got.TotalOut != 15 || got.TotalIn != 10 {
		t.Fatalf("totals = %+v", got)
	}
	by := c.GetBandwidthByProtocol()
	if len(by) != 2 || by["/b"].TotalIn != 3 {
		t.Fatalf("by protocol = %+v", by)
	}
	if len(c.GetBandwidthByPeer()) != 0 || c.GetBandwidthForPeer("p1").TotalIn != 0 {
		t.Fatal("per-peer totals kept")
	}
	st := traffic.Status(nil, &c)
	if st["/a"].BytesOut != 15 || st["/b"].BytesIn != 3 {
		t.Fatalf("status = %+v", st)
	}
	c.Reset()
	if got := c.GetBandwidthTotals(); got.TotalIn != 0 || len(c.GetBandwidthByProtocol()) != 0 {
		t.Fatalf("after Reset: %+v", got)
	}
}
