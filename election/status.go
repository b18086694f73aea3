package election

import (
	"fmt"
	"strings"
	"time"
)

// Status is a snapshot of the machine, JSON-tagged to be used as the
// "election" object of `status --json`; String renders it for `status`.
type Status struct {
	Now         time.Time `json:"now"`
	Role        Role      `json:"role"`
	Since       time.Time `json:"since"`
	RoleChanges int       `json:"role_changes"`
	// DwellUntil: the earliest time the machine may propose leaving Role.
	DwellUntil time.Time `json:"dwell_until"`

	Eligible bool         `json:"eligible"`
	Criteria []Criterion  `json:"criteria"`
	Demand   DemandStatus `json:"demand"`
	// Score in [0,1] ranks this node among candidates (see Config.StaggerMax).
	Score float64 `json:"score"`

	// Leaving: a supernode with a demotion scheduled or in flight
	// (Machine.Leaving), for its load reports.
	Leaving bool `json:"leaving,omitempty"`
	// Candidate: a leaf with a promotion scheduled or in flight
	// (Machine.Candidate), for its probe answers.
	Candidate bool `json:"candidate,omitempty"`
	// WokeAt: the last wake-up from a suspension, and Slept how long the
	// node was away (Suspended); current uptime counts from WokeAt.
	WokeAt       time.Time      `json:"woke_at,omitzero"`
	Slept        time.Duration  `json:"slept_ns,omitempty"`
	Pending      *PendingStatus `json:"pending"`       // null when none
	LastDecision *Decision      `json:"last_decision"` // null before the first
	// Failures: consecutive failed role changes; BackoffUntil: no new
	// proposal before then.
	Failures     int       `json:"failures"`
	BackoffUntil time.Time `json:"backoff_until,omitzero"`
}

// DemandStatus is the demand as the machine last saw it.
type DemandStatus struct {
	// Rho and Fill: over the supernodes reporting to a leaf; for a
	// supernode, over its peers and its own load.
	Rho  float64 `json:"rho"`
	Fill float64 `json:"fill"`
	// Reporters: fresh reports from other supernodes; Leaving: how many
	// of them report a demotion under way; RankBelow: how many staying
	// reporters rank below this node (they leave first on a surplus).
	Reporters int `json:"reporters"`
	Leaving   int `json:"leaving,omitempty"`
	RankBelow int `json:"rank_below,omitempty"`
	// CandidatesAbove: leaves with a promotion pending that rank above this
	// one (Candidate observations); an empty overlay waits for them.
	CandidatesAbove int `json:"candidates_above,omitempty"`
	// OwnRho, OwnLeaves: own load (supernode only, when fresh).
	OwnRho    *float64 `json:"own_rho,omitempty"`
	OwnLeaves *int     `json:"own_leaves,omitempty"`
	// Supernodes: other supernodes reachable (last Supernodes observation);
	// null when never observed.
	Supernodes *int `json:"supernodes"`
	// NoSupernode: none reachable and none reporting (empty overlay).
	NoSupernode bool `json:"no_supernode"`
	// Sole: a supernode that knows no other; it never demotes for surplus.
	Sole bool `json:"sole_supernode,omitempty"`
	// ProjectedRho, ProjectedFill: what the others would carry if this
	// supernode left (supernode only).
	ProjectedRho  *float64 `json:"projected_rho,omitempty"`
	ProjectedFill *float64 `json:"projected_fill,omitempty"`
	// Condition: "need", "empty", "surplus" or "none"; Since: when it began.
	Condition string    `json:"condition"`
	Since     time.Time `json:"since,omitzero"`
	Detail    string    `json:"detail"`
}

// PendingStatus is a scheduled proposal, or one in flight (Proposed).
type PendingStatus struct {
	Target Role `json:"target"`
	// Cause: "need", "empty", "surplus" or "ineligible".
	Cause       string    `json:"cause"`
	Reason      string    `json:"reason"`
	ScheduledAt time.Time `json:"scheduled_at"`
	Due         time.Time `json:"due"`
	Score       float64   `json:"score"`
	// Proposed: handed to the caller, waiting for RoleChanged/RoleChangeFailed.
	Proposed bool `json:"proposed"`
}

func (c cause) String() string {
	switch c {
	case causeNeed:
		return "need"
	case causeEmpty:
		return "empty"
	case causeSurplus:
		return "surplus"
	case causeIneligible:
		return "ineligible"
	case causeSuspended:
		return "suspended"
	}
	return "none"
}

// Status returns a snapshot; it does not change the machine.
func (m *Machine) Status() Status {
	s := m.snapshot(true)
	st := Status{
		Now:          m.now,
		Role:         m.role,
		Since:        m.since,
		RoleChanges:  m.changes,
		DwellUntil:   m.dwellUntil(),
		Eligible:     s.eligible,
		Criteria:     s.criteria,
		Score:        s.score,
		Failures:     m.failures,
		BackoffUntil: m.backoffUntil,
		Leaving:      m.Leaving(),
		Candidate:    m.Candidate(),
		WokeAt:       m.wokeAt,
		Slept:        m.slept,
	}
	v := s.demand
	d := DemandStatus{Reporters: v.peers, Leaving: v.peers - v.staying, RankBelow: v.below, CandidatesAbove: v.above, Condition: "none"}
	if v.supernodesKnown {
		n := v.supernodes
		d.Supernodes = &n
	}
	d.NoSupernode, _ = m.empty(v)
	if m.role == RoleLeaf {
		d.Rho, d.Fill = v.leafRho(), v.leafFill()
		switch {
		case s.need:
			d.Condition, d.Since, d.Detail = "need", m.needSince, s.needWhy.String()
		case s.empty:
			d.Condition, d.Since, d.Detail = "empty", m.emptySince, s.emptyWhy.String()
			if v.above > 0 {
				d.Detail += "; waiting: " + v.aboveText() + " promotes first"
			}
		default:
			d.Detail = s.needWhy.String()
		}
	} else {
		d.Rho, d.Fill = v.leafRho(), v.leafFill()
		if v.own {
			d.Rho, d.Fill = v.allRho(), v.allFill()
			rho, leaves := v.ownRho, v.ownLeaves
			d.OwnRho, d.OwnLeaves = &rho, &leaves
			if v.staying > 0 {
				pr, pf := v.projRho(), v.projFill()
				d.ProjectedRho, d.ProjectedFill = &pr, &pf
			}
		}
		d.Sole = v.sole()
		d.Detail = s.surplusWhy.String()
		if s.surplus {
			d.Condition, d.Since = "surplus", m.surplusSince
		}
	}
	st.Demand = d
	if p := m.pending; p != nil {
		st.Pending = &PendingStatus{
			Target: p.target, Cause: p.cause.String(), Reason: p.reason,
			ScheduledAt: p.scheduledAt, Due: p.due, Score: p.score, Proposed: p.proposed,
		}
	}
	if m.hasLast {
		last := m.last
		st.LastDecision = &last
	}
	return st
}

// String renders the status for humans, one fact per line.
func (s Status) String() string {
	var b strings.Builder
	ago := func(t time.Time) string { return s.Now.Sub(t).Round(time.Second).String() }
	in := func(t time.Time) string { return t.Sub(s.Now).Round(time.Second).String() }
	ts := func(t time.Time) string { return t.Format(time.RFC3339) }

	fmt.Fprintf(&b, "role:       %s since %s (%s ago), %d role changes", s.Role, ts(s.Since), ago(s.Since), s.RoleChanges)
	if s.DwellUntil.After(s.Now) {
		fmt.Fprintf(&b, ", dwell ends in %s", in(s.DwellUntil))
	}
	b.WriteByte('\n')
	el := "no"
	if s.Eligible {
		el = "yes"
	}
	fmt.Fprintf(&b, "eligible:   %s (score %.2f)\n", el, s.Score)
	for _, c := range s.Criteria {
		fmt.Fprintf(&b, "  - %s\n", c)
	}
	d := s.Demand
	fmt.Fprintf(&b, "demand:     %s; ρ %.2f, fill %.2f from %d supernodes", d.Condition, d.Rho, d.Fill, d.Reporters)
	if d.Supernodes != nil {
		fmt.Fprintf(&b, ", %d reachable", *d.Supernodes)
	}
	if d.NoSupernode {
		b.WriteString(", no supernode")
	}
	if d.Sole {
		b.WriteString(", sole supernode")
	}
	if !d.Since.IsZero() {
		fmt.Fprintf(&b, ", for %s", ago(d.Since))
	}
	fmt.Fprintf(&b, "\n  %s\n", d.Detail)
	if p := s.Pending; p != nil {
		state := fmt.Sprintf("due in %s", in(p.Due))
		if p.Proposed {
			state = "proposed, waiting for the role change"
		}
		fmt.Fprintf(&b, "pending:    become %s (%s), %s: %s\n", p.Target, p.Cause, state, p.Reason)
	} else {
		b.WriteString("pending:    none\n")
	}
	if s.Candidate {
		b.WriteString("candidate:  yes (a promotion is pending; leaves ranked below wait for it)\n")
	}
	if !s.WokeAt.IsZero() {
		fmt.Fprintf(&b, "suspended:  woke %s ago after %s away\n", ago(s.WokeAt), s.Slept.Round(time.Second))
	}
	if s.Failures > 0 {
		fmt.Fprintf(&b, "failures:   %d, backing off until %s\n", s.Failures, ts(s.BackoffUntil))
	}
	if ld := s.LastDecision; ld != nil {
		fmt.Fprintf(&b, "last:       %s → %s %s ago: %s\n", ld.Kind, ld.Target, ago(ld.At), ld.Reason)
	} else {
		b.WriteString("last:       none\n")
	}
	return b.String()
}
