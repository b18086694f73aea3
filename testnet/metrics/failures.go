package metrics

import (
	"sort"
	"strings"
	"time"

	"github.com/supertracker/supertracker/testnet/events"
)

// Failure causes, the first that applies (checked in this order):
const (
	// CauseIssuerKilled: the node that issued the op was killed before
	// the answer came.
	CauseIssuerKilled = "issuer killed during the op"
	// CauseIssuerRestarted: the issuer restarted less than RecentRestart
	// before: it was still attaching to a supernode.
	CauseIssuerRestarted = "issuer restarted moments before (still attaching)"
	// CauseMassFailure: the mass failure happened less than FailoverWindow
	// before the op or while it ran.
	CauseMassFailure = "mass failure"
	// CauseTargetedKill: a supernode was killed by the targeted kill.
	CauseTargetedKill = "targeted supernode kill"
	// CauseSupernodeChurn: a supernode was killed by churn.
	CauseSupernodeChurn = "supernode killed by churn"
	// CauseNotAttached: the issuer had no supernode to send the op to
	// (the launcher saw it detached, or its error says so): every
	// supernode up was full or unreachable.
	CauseNotAttached = "issuer had no supernode (none with a free slot)"
	// CauseRoleRefused: the node's role does not take the request (the
	// sweeps' tracker-only nodes refuse announces by design).
	CauseRoleRefused = "refused by the node's role (by design)"
	// CauseQueueFull: a service-capped node (the load sweep's
	// --service-rate/--service-queue) turned the request away, its queue
	// full: the paper's M/M/1/h loss.
	CauseQueueFull = "turned away: the node's queue was full (service cap)"
	// CauseNoLiveHolder: the answer came but held no live holder.
	CauseNoLiveHolder = "answer without a live holder"
	// CauseUnexplained: none of the above.
	CauseUnexplained = "unexplained"
)

// RecentRestart and FailoverWindow bound the time-based causes.
const (
	RecentRestart  = 15 * time.Second
	FailoverWindow = 10 * time.Second
)

// Failure is one failed announce or lookup and its cause.
type Failure struct {
	Op      string  `json:"op"` // "announce" or "lookup"
	OpID    uint64  `json:"op_id"`
	Node    int     `json:"node"`
	Object  int     `json:"object"`
	IssuedS float64 `json:"issued_s"` // since t0
	Outcome string  `json:"outcome"`  // lookup outcome or announce status
	Cause   string  `json:"cause"`
	Error   string  `json:"error,omitempty"`
}

// FailureStats names the cause of every failed announce and lookup.
type FailureStats struct {
	Lookups   map[string]int `json:"lookups"`   // by cause
	Announces map[string]int `json:"announces"` // by cause
	List      []Failure      `json:"list"`
}

func (a *analysis) failures(s *Summary) {
	fs := &s.Failures
	fs.Lookups, fs.Announces = map[string]int{}, map[string]int{}
	type kill struct {
		t     time.Duration
		cause string
		super bool
	}
	var kills []kill
	restarts := map[int][]time.Duration{}
	// detached[n]: spans in which node n, a leaf, reported no supernode.
	detached := map[int][]span{}
	openDetach := map[int]time.Duration{}
	closeDetach := func(n int, t time.Duration) {
		if from, ok := openDetach[n]; ok {
			detached[n] = append(detached[n], span{from, t})
			delete(openDetach, n)
		}
	}
	super := make([]bool, a.log.Run.Nodes)
	for _, ev := range a.evs {
		switch e := ev.Payload.(type) {
		case events.NodeStart:
			super[e.Node] = e.Role == events.RoleSupernode
		case events.NodeRestart:
			super[e.Node] = e.Role == events.RoleSupernode
			restarts[e.Node] = append(restarts[e.Node], ev.T)
		case events.RoleChange:
			super[e.Node] = e.To == events.RoleSupernode
		case events.NodeKill:
			if e.Cause != events.CauseShutdown {
				kills = append(kills, kill{ev.T, e.Cause, super[e.Node]})
			}
			closeDetach(e.Node, ev.T)
		case events.LeafAttach:
			if e.Attached {
				closeDetach(e.Node, ev.T)
			} else if _, open := openDetach[e.Node]; !open {
				openDetach[e.Node] = ev.T
			}
		}
	}
	for n, from := range openDetach {
		detached[n] = append(detached[n], span{from, forever})
	}
	// The launcher polls about once a second: a span counts from a second
	// before it was seen.
	const pollSlack = time.Second
	wasDetached := func(n int, issued, done time.Duration) bool {
		for _, sp := range detached[n] {
			if sp.from-pollSlack <= done && issued <= sp.to {
				return true
			}
		}
		return false
	}
	classify := func(node int, issued, done time.Duration, errText string, answered bool) string {
		killedDuring := false
		for _, sp := range a.alive[node] {
			if sp.from <= issued && sp.to > issued && sp.to <= done {
				killedDuring = true
			}
		}
		if killedDuring {
			return CauseIssuerKilled
		}
		for _, t := range restarts[node] {
			if t <= issued && issued-t < RecentRestart {
				return CauseIssuerRestarted
			}
		}
		var mass, targeted, churn bool
		for _, k := range kills {
			if k.t < issued-FailoverWindow || k.t > done {
				continue
			}
			switch {
			case k.cause == events.CauseMassFailure:
				mass = true
			case k.super && k.cause == events.CauseTargeted:
				targeted = true
			case k.super:
				churn = true
			}
		}
		switch {
		case mass:
			return CauseMassFailure
		case targeted:
			return CauseTargetedKill
		case churn:
			return CauseSupernodeChurn
		}
		if strings.Contains(strings.ToLower(errText), "queue full") {
			return CauseQueueFull
		}
		if wasDetached(node, issued, done) {
			return CauseNotAttached
		}
		if strings.Contains(strings.ToLower(errText), "not supported by this node's role") {
			return CauseRoleRefused
		}
		low := strings.ToLower(errText)
		if strings.Contains(low, "no supernode") || strings.Contains(low, "not attached") || strings.Contains(low, "over_capacity") || strings.Contains(low, "over capacity") {
			return CauseNotAttached
		}
		if answered {
			return CauseNoLiveHolder
		}
		return CauseUnexplained
	}
	for _, r := range a.lookupRows() {
		if r.Outcome == OutcomeSuccess {
			continue
		}
		errText := ""
		if r.Status != events.StatusOK {
			errText = a.lookupErr[r.OpID]
		}
		c := classify(r.Node, a.t0+r.Issued, a.t0+r.Done, errText, r.Status == events.StatusOK)
		fs.Lookups[c]++
		fs.List = append(fs.List, Failure{Op: "lookup", OpID: r.OpID, Node: r.Node, Object: r.Object,
			IssuedS: sec(r.Issued), Outcome: r.Outcome, Cause: c, Error: errText})
	}
	for _, ev := range a.evs {
		an, ok := ev.Payload.(events.AnnounceResult)
		if !ok || an.Status == events.StatusOK {
			continue
		}
		issued := ev.T - an.Latency
		c := classify(an.Node, issued, ev.T, an.Error, false)
		fs.Announces[c]++
		fs.List = append(fs.List, Failure{Op: "announce", OpID: an.OpID, Node: an.Node, Object: an.Object,
			IssuedS: sec(issued - a.t0), Outcome: an.Status, Cause: c, Error: an.Error})
	}
	sort.SliceStable(fs.List, func(i, j int) bool { return fs.List[i].IssuedS < fs.List[j].IssuedS })
}
