package election

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Criterion is one eligibility test as shown in status.
type Criterion struct {
	// Name: reachable, uptime_current, uptime_average, upload, headroom.
	Name string `json:"name"`
	// Value and Threshold in Unit: "bool" (1 = yes), "s", "B/s", "fraction".
	Value     float64 `json:"value"`
	Threshold float64 `json:"threshold"`
	Unit      string  `json:"unit"`
	// Known is false when there is no measurement or it is stale; an
	// unknown criterion is never OK.
	Known bool `json:"known"`
	OK    bool `json:"ok"`
	// AnyOf names a group of which one OK criterion suffices ("uptime");
	// every criterion without a group must be OK.
	AnyOf  string `json:"any_of,omitempty"`
	Detail string `json:"detail,omitempty"`
}

func (c Criterion) String() string {
	mark := "ok"
	switch {
	case !c.Known:
		mark = "unknown"
	case !c.OK:
		mark = "no"
	}
	var s string
	if c.Unit == "bool" {
		s = fmt.Sprintf("%s: %s", c.Name, mark)
	} else {
		op := "≥"
		if c.Known && !c.OK {
			op = "<"
		}
		v := "?"
		if c.Known {
			v = formatValue(c.Value, c.Unit)
		}
		s = fmt.Sprintf("%s %s %s %s: %s", c.Name, v, op, formatValue(c.Threshold, c.Unit), mark)
	}
	if c.Detail != "" {
		s += " (" + c.Detail + ")"
	}
	if c.AnyOf != "" {
		s += " [one " + c.AnyOf + " criterion suffices]"
	}
	return s
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "s":
		return time.Duration(v * float64(time.Second)).Round(time.Second).String()
	case "B/s":
		return formatRate(v)
	case "bool":
		if v != 0 {
			return "yes"
		}
		return "no"
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func formatRate(bps float64) string {
	switch {
	case bps >= 1<<20:
		return fmt.Sprintf("%.1f MiB/s", bps/(1<<20))
	case bps >= 1<<10:
		return fmt.Sprintf("%.1f KiB/s", bps/(1<<10))
	default:
		return fmt.Sprintf("%.0f B/s", bps)
	}
}

// fresh reports whether a measurement taken at `at` is still trusted at now.
func fresh(now, at time.Time, ttl time.Duration) bool {
	return !at.IsZero() && now.Sub(at) <= ttl
}

// trusted returns the last measurement o when it is still trusted at now;
// otherwise nil and why not: never taken (never), or taken longer than ttl
// ago ("<taken> 5m0s ago, older than 2m0s").
func trusted[O Observation](now time.Time, o *O, ttl time.Duration, never, taken string) (*O, string) {
	switch {
	case o == nil:
		return nil, never
	case !fresh(now, (*o).observedAt(), ttl):
		return nil, fmt.Sprintf("%s %s ago, older than %s", taken, now.Sub((*o).observedAt()).Round(time.Second), ttl)
	}
	return o, ""
}

// criteria evaluates eligibility; explain adds the Detail texts.
func (m *Machine) criteria(explain bool) []Criterion {
	cfg, now := m.cfg, m.now
	cs := make([]Criterion, 0, 5)

	reach := Criterion{Name: "reachable", Threshold: 1, Unit: "bool"}
	if r, why := trusted(now, m.reach, cfg.ReachabilityTTL, "no dial-back yet", "last dial-back"); r == nil {
		reach.Detail = why
	} else {
		reach.Known, reach.OK = true, r.Reachable
		if r.Reachable {
			reach.Value = 1
			reach.Detail = "verified by " + r.VerifiedBy
		} else {
			// Behind a NAT or a firewall: such a node stays a leaf,
			// reachable through its supernodes' relays.
			reach.Detail = "unreachable: dial-back failed"
			if r.VerifiedBy != "" {
				reach.Detail += " from " + r.VerifiedBy
			}
			reach.Detail += " (behind a NAT or firewall?)"
		}
	}
	cs = append(cs, reach)

	cur := Criterion{Name: "uptime_current", Threshold: cfg.MinUptime.Seconds(), Unit: "s", AnyOf: "uptime"}
	avg := Criterion{Name: "uptime_average", Threshold: cfg.MinAvgUptime.Seconds(), Unit: "s", AnyOf: "uptime"}
	if u := m.uptime; u != nil {
		start, _ := m.sessionStart()
		d := max(now.Sub(start), 0)
		cur.Known, cur.Value, cur.OK = true, d.Seconds(), d >= cfg.MinUptime
		if explain && start.After(u.SessionStart) {
			cur.Detail = "since waking from a suspension at " + start.Format(time.RFC3339)
		}
		if u.Sessions > 0 {
			avg.Known, avg.Value, avg.OK = true, u.Average.Seconds(), u.Average >= cfg.MinAvgUptime
			if explain {
				avg.Detail = fmt.Sprintf("%d sessions", u.Sessions)
			}
		} else {
			avg.Detail = "no history"
		}
	}
	cs = append(cs, cur, avg)

	up := Criterion{Name: "upload", Threshold: float64(cfg.MinUpload), Unit: "B/s"}
	if b, why := trusted(now, m.bandwidth, cfg.MeasurementTTL, "not measured", "measured"); b == nil {
		up.Detail = why
	} else {
		up.Known, up.Value, up.OK = true, float64(b.Upload), b.Upload >= cfg.MinUpload
	}
	cs = append(cs, up)

	head := Criterion{Name: "headroom", Threshold: cfg.MinHeadroom, Unit: "fraction"}
	if r, why := trusted(now, m.resources, cfg.MeasurementTTL, "not measured", "measured"); r == nil {
		head.Detail = why
	} else {
		v := math.Min(r.CPU, r.Mem)
		head.Known, head.Value, head.OK = true, v, v >= cfg.MinHeadroom
		if explain {
			head.Detail = fmt.Sprintf("cpu %.2f, mem %.2f free", r.CPU, r.Mem)
		}
	}
	cs = append(cs, head)
	return cs
}

// eligible: every ungrouped criterion OK, and at least one OK per AnyOf group.
func eligible(cs []Criterion) bool {
	for _, c := range cs {
		if c.OK {
			continue
		}
		if c.AnyOf == "" || !groupOK(cs, c.AnyOf) {
			return false
		}
	}
	return true
}

func groupOK(cs []Criterion, group string) bool {
	for _, c := range cs {
		if c.AnyOf == group && c.OK {
			return true
		}
	}
	return false
}

// failing describes why cs is not eligible, for reasons.
func failing(cs []Criterion) string {
	var parts []string
	for _, c := range cs {
		if c.OK || (c.AnyOf != "" && groupOK(cs, c.AnyOf)) {
			continue
		}
		parts = append(parts, c.String())
	}
	return strings.Join(parts, "; ")
}

// score ranks a candidate in [0,1]: half uptime (linear up to ScoreUptime,
// the better of current and average session), half upload (logarithmic from
// MinUpload to ScoreUpload). Unknown measurements count as 0.
func (m *Machine) score() float64 {
	cfg := m.cfg
	var up time.Duration
	if u := m.uptime; u != nil {
		start, _ := m.sessionStart()
		up = max(m.now.Sub(start), 0)
		if u.Sessions > 0 {
			up = max(up, u.Average)
		}
	}
	su := clamp01(up.Seconds() / cfg.ScoreUptime.Seconds())
	var sb float64
	if b := m.bandwidth; b != nil && fresh(m.now, b.At, cfg.MeasurementTTL) && b.Upload > 0 {
		lo, hi := float64(max(cfg.MinUpload, 1)), float64(cfg.ScoreUpload)
		sb = clamp01(math.Log(float64(b.Upload)/lo) / math.Log(hi/lo))
	}
	return (su + sb) / 2
}

func clamp01(x float64) float64 {
	if !(x > 0) { // also NaN
		return 0
	}
	return math.Min(x, 1)
}
