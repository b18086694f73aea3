package traffic

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/metrics"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

// Counts are the messages and bytes of one kind of traffic.
type Counts struct {
	MsgsIn, MsgsOut   uint64
	BytesIn, BytesOut int64
}

// Meter counts traffic by key (a protocol ID, or protocol/message type).
// The zero value is ready; it is safe for concurrent use.
type Meter struct {
	mu sync.Mutex
	m  map[string]*Counts
}

// In counts one received message of n bytes.
func (t *Meter) In(key string, n int) { t.add(key, 1, 0, int64(n), 0) }

// Out counts one sent message of n bytes.
func (t *Meter) Out(key string, n int) { t.add(key, 0, 1, 0, int64(n)) }

func (t *Meter) add(key string, mi, mo uint64, bi, bo int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = make(map[string]*Counts)
	}
	c := t.m[key]
	if c == nil {
		c = &Counts{}
		t.m[key] = c
	}
	c.MsgsIn += mi
	c.MsgsOut += mo
	c.BytesIn += bi
	c.BytesOut += bo
}

// Snapshot copies the counts.
func (t *Meter) Snapshot() map[string]Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Counts, len(t.m))
	for k, c := range t.m {
		out[k] = *c
	}
	return out
}

// Status merges the meter's counts with libp2p's per-protocol byte counts
// (bw may be nil) into the API's traffic map.
func Status(counts map[string]Counts, bw metrics.Reporter) map[string]httpapi.Traffic {
	out := make(map[string]httpapi.Traffic, len(counts))
	for k, c := range counts {
		out[k] = httpapi.Traffic{MsgsIn: c.MsgsIn, MsgsOut: c.MsgsOut, BytesIn: c.BytesIn, BytesOut: c.BytesOut}
	}
	if bw != nil {
		for p, st := range bw.GetBandwidthByProtocol() {
			if p == "" {
				continue // before protocol negotiation
			}
			t := out[string(p)]
			t.BytesIn, t.BytesOut = st.TotalIn, st.TotalOut
			if p == protocol.DHTPrefix+"/kad/1.0.0" {
				if kad, ok := counts["kad"]; ok {
					t.MsgsIn = kad.MsgsIn
				}
			}
			out[string(p)] = t
		}
	}
	return out
}
