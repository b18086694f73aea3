package node

// The status page at / on --api: one server-rendered HTML page (no script,
// no external asset) with what an operator wants to see at a glance.

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

type pageSupernode struct {
	PeerID, Addr string
	Primary      bool
	RTT          string
	Leaves       int
	MaxLeaves    int
	Rho          float64
}

type pageCriterion struct {
	Name, Value, Threshold, Op, Mark, Detail, AnyOf string
}

type pageTraffic struct {
	Kind              string
	MsgsIn, MsgsOut   string // "—" where only bytes are counted
	BytesIn, BytesOut string
}

type statusPageData struct {
	Now          time.Time
	Role         string
	PeerID       string
	Addrs        []string
	Uptime       string
	Healthy      bool
	HealthReason string
	StatusError  string

	Supernode    bool
	Leaves       []string
	LeafCount    int
	MaxLeaves    int
	Records      int
	RecordLeaves int
	RoutingTable int
	Rho          float64
	ReqPerSec    float64

	Supernodes []pageSupernode
	Objects    int
	Failovers  int
	IsLeaf     bool

	Election  *election.Status
	Criteria  []pageCriterion
	Pending   string
	LastDecis string

	Tracker *pageTracker

	Lookups []lookupRecord
	Traffic []pageTraffic
}

func (v *opsView) serveStatusPage(w http.ResponseWriter, r *http.Request) {
	d := v.statusPage(r.Context())
	body := renderStatusPage(d)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	_, _ = w.Write(body)
}

func (v *opsView) statusPage(ctx context.Context) *statusPageData {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	now := time.Now()
	d := &statusPageData{Now: now, Uptime: now.Sub(v.started).Round(time.Second).String(), Lookups: v.recent.list(),
		Tracker: v.trackerSection(now)}
	d.Healthy, _, d.HealthReason = v.health(ctx)
	st, err := v.backend.Status(ctx)
	if err != nil {
		d.StatusError = err.Error()
		return d
	}
	d.Role, d.PeerID, d.Addrs, d.Objects = st.Role, st.PeerID, st.Addrs, st.Objects
	if sn := v.supernode(); sn != nil && st.Role == httpapi.RoleSupernode {
		sn.fillPage(d)
	}
	if a := v.agent(); a != nil && st.Role == httpapi.RoleLeaf {
		d.IsLeaf = true
		d.Failovers = a.Failovers()
		addrs := map[string]string{}
		for _, ai := range a.Supernodes() {
			if len(ai.Addrs) > 0 {
				addrs[ai.ID.String()] = ai.Addrs[0].String()
			}
		}
		for _, l := range a.Loads() {
			d.Supernodes = append(d.Supernodes, pageSupernode{PeerID: l.Peer.String(), Addr: addrs[l.Peer.String()], Primary: l.Primary,
				RTT: l.RTT.Round(10 * time.Microsecond).String(), Leaves: l.Leaves, MaxLeaves: l.MaxLeaves, Rho: l.Rho})
		}
	}
	if st.Election != nil {
		el := st.Election.Status
		d.Election = &el
		for _, c := range el.Criteria {
			d.Criteria = append(d.Criteria, criterionRow(c))
		}
		if p := el.Pending; p != nil {
			state := "due in " + p.Due.Sub(el.Now).Round(time.Second).String()
			if p.Proposed {
				state = "proposed"
			}
			d.Pending = fmt.Sprintf("become %s (%s), %s: %s", p.Target, p.Cause, state, p.Reason)
		}
		if l := el.LastDecision; l != nil {
			d.LastDecis = fmt.Sprintf("%s → %s, %s ago: %s", l.Kind, l.Target, el.Now.Sub(l.At).Round(time.Second), l.Reason)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(st.Traffic)) {
		t := st.Traffic[k]
		row := pageTraffic{Kind: k, MsgsIn: fmt.Sprint(t.MsgsIn), MsgsOut: fmt.Sprint(t.MsgsOut),
			BytesIn: formatBytes(t.BytesIn), BytesOut: formatBytes(t.BytesOut)}
		if !msgsCounted(k, t.MsgsIn, t.MsgsOut) {
			row.MsgsIn, row.MsgsOut = "—", "—"
		}
		d.Traffic = append(d.Traffic, row)
	}
	return d
}

func criterionRow(c election.Criterion) pageCriterion {
	row := pageCriterion{Name: c.Name, Threshold: formatUnit(c.Threshold, c.Unit), Detail: c.Detail, Value: "?", Op: "≥"}
	if c.Unit == "bool" {
		row.Threshold, row.Op = "yes", "="
	}
	switch {
	case !c.Known:
		row.Mark = "unknown"
	case c.OK:
		row.Mark, row.Value = "ok", formatUnit(c.Value, c.Unit)
	default:
		row.Mark, row.Value = "no", formatUnit(c.Value, c.Unit)
		if c.Unit != "bool" {
			row.Op = "<"
		}
	}
	if c.AnyOf != "" {
		row.AnyOf = "one " + c.AnyOf + " criterion suffices"
	}
	return row
}

func formatUnit(v float64, unit string) string {
	switch unit {
	case "s":
		return time.Duration(v * float64(time.Second)).Round(time.Second).String()
	case "B/s":
		return formatBytes(int64(v)) + "/s"
	case "bool":
		if v != 0 {
			return "yes"
		}
		return "no"
	case "fraction":
		return fmt.Sprintf("%.0f%%", v*100)
	}
	return fmt.Sprintf("%.2f %s", v, unit)
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// msgsCounted: the node counts messages for its own request kinds; for a
// libp2p protocol ID only bytes are known unless some message was counted.
func msgsCounted(kind string, in, out uint64) bool {
	return !strings.HasPrefix(kind, "/") || in+out > 0
}
