package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/testnet/events"
)

// nodeStatus is GET /v1/status plus optional fields a node may add.
type nodeStatus struct {
	httpapi.Status
	// ReqPerS is the supernode's measured request arrival rate λ, if it
	// reports one; otherwise the launcher derives it from traffic counters.
	ReqPerS *float64 `json:"req_per_s,omitempty"`
}

// statusClient polls node status with short timeouts and its own
// connection pool.
var statusClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: 10 * time.Second, DisableCompression: true},
}

func getStatus(ctx context.Context, api string) (*nodeStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+httpapi.PathStatus, nil)
	if err != nil {
		return nil, err
	}
	resp, err := statusClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	var st nodeStatus
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	return &st, nil
}

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat; Linux
// exposes 100 on every architecture.
const clockTicks = 100

// procUsage returns the cumulative user+system CPU seconds and the current
// resident set size of pid, from /proc.
func procUsage(pid int) (cpu float64, rss int64, err error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	cpu, err = parseStatCPU(string(stat))
	if err != nil {
		return 0, 0, err
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss, err = parseStatusRSS(string(status))
	return cpu, rss, err
}

// parseStatCPU reads utime+stime (fields 14 and 15) of a /proc/PID/stat
// line; the command name (field 2) may contain spaces and parentheses.
func parseStatCPU(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("proc stat: no command name")
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, errors.New("proc stat: too few fields")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("proc stat: bad utime/stime")
	}
	return float64(ut+st) / clockTicks, nil
}

// parseStatusRSS reads VmRSS (kB) of /proc/PID/status, in bytes.
func parseStatusRSS(s string) (int64, error) {
	for _, line := range strings.Split(s, "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("proc status: VmRSS %q", rest)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("proc status: no VmRSS")
}

// trafficClass maps a traffic key (a libp2p protocol ID, possibly with a
// message-type suffix) to an events traffic class. Keys naming lookups or
// announces (or replication, which only announces cause) get those
// classes; the kad-dht protocol is "dht"; everything else, including the
// leaf session protocol as a whole, is "other".
func trafficClass(key string) string {
	k := strings.ToLower(key)
	switch {
	case strings.Contains(k, "lookup"):
		return events.ClassLookup
	case strings.Contains(k, "announce") || strings.Contains(k, "replicate") || strings.Contains(k, "withdraw"):
		return events.ClassAnnounce
	case strings.Contains(k, "/kad/") || strings.HasSuffix(k, "/kad"):
		return events.ClassDHT
	}
	return events.ClassOther
}

type classTotals struct{ msgs, bytes int64 }

func trafficByClass(t map[string]httpapi.Traffic) (map[string]classTotals, uint64) {
	out := map[string]classTotals{}
	var in uint64
	for k, v := range t {
		c := out[trafficClass(k)]
		c.msgs += int64(v.MsgsIn + v.MsgsOut)
		c.bytes += max(v.BytesIn, 0) + max(v.BytesOut, 0)
		out[trafficClass(k)] = c
		in += v.MsgsIn
	}
	return out, in
}

// sampler polls every live node about once a second until ctx ends.
func (r *runner) sampler(ctx context.Context, every time.Duration, tick func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		r.sampleOnce(ctx)
		if tick != nil {
			tick()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *runner) sampleOnce(ctx context.Context) {
	var wg sync.WaitGroup
	for _, n := range r.nodes {
		if n.up() {
			wg.Go(func() { r.sampleNode(ctx, n) })
		}
	}
	wg.Wait()
}

func finiteNonNeg(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}

// sampleNode polls one node's status and /proc entry and emits role
// changes and samples, unless the node was killed or restarted meanwhile.
func (r *runner) sampleNode(ctx context.Context, n *node) {
	n.mu.Lock()
	if n.state != stateUp {
		n.mu.Unlock()
		return
	}
	p, gen := n.p, n.gen
	n.mu.Unlock()
	sctx, cancel := context.WithTimeout(ctx, 900*time.Millisecond)
	st, serr := getStatus(sctx, n.api)
	cancel()
	cpu, rss, perr := procUsage(p.PID())
	now := time.Now()

	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gen != gen || n.state != stateUp || ctx.Err() != nil {
		return
	}
	if serr == nil && (st.Role == RoleLeaf || st.Role == RoleSupernode) && st.Role != n.role {
		r.emit(events.RoleChange{Node: n.idx, From: n.role, To: st.Role})
		n.role = st.Role
		if st.Role == RoleSupernode {
			n.wasSN = true
		}
	}
	if perr == nil {
		r.emit(events.ResourceSample{Node: n.idx, Role: n.role, CPUSeconds: cpu, RSSBytes: rss})
	}
	if serr != nil {
		return
	}
	// A leaf's attachment: the reason its requests fail when it has none.
	attached := n.role == RoleSupernode || len(st.Supernodes) > 0
	if !n.attachKnown || attached != n.attached {
		if n.attachKnown || !attached {
			r.emit(events.LeafAttach{Node: n.idx, Attached: attached})
		}
		n.attached, n.attachKnown = attached, true
	}
	classes, msgsIn := trafficByClass(st.Traffic)
	var rate float64
	switch {
	case st.ReqPerS != nil:
		rate = *st.ReqPerS
	case len(st.Traffic) > 0 && n.havePrev && n.prevGen == gen && msgsIn >= n.prevIn:
		if dt := now.Sub(n.prevAt).Seconds(); dt > 0 {
			rate = float64(msgsIn-n.prevIn) / dt
		}
	}
	n.prevIn, n.prevAt, n.prevGen, n.havePrev = msgsIn, now, gen, true
	if n.role == RoleSupernode {
		s := events.SupernodeSample{Node: n.idx, ReqPerSec: finiteNonNeg(rate)}
		if st.Leaves != nil {
			s.Leaves = max(*st.Leaves, 0)
		}
		if st.Rho != nil {
			s.Utilisation = finiteNonNeg(*st.Rho)
		}
		if st.Records != nil {
			s.Records = int64(max(*st.Records, 0))
		}
		r.emit(s)
	}
	names := make([]string, 0, len(classes))
	for c := range classes {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		r.emit(events.TrafficSample{Node: n.idx, Class: c, Msgs: classes[c].msgs, Bytes: classes[c].bytes})
	}
}
