package election

import (
	"fmt"
	"time"
)

// Kind says what a Decision is.
type Kind string

const (
	// KindPromote is a proposal: become a supernode, then report RoleChanged
	// or RoleChangeFailed.
	KindPromote Kind = "promote"
	// KindDemote is a proposal: hand the leaves over and become a leaf, then
	// report RoleChanged or RoleChangeFailed.
	KindDemote Kind = "demote"
	// KindScheduled is informational: a proposal towards Target is due at
	// Due unless its condition goes away first. Nothing to do.
	KindScheduled Kind = "scheduled"
	// KindCancelled is informational: a scheduled proposal was dropped, or a
	// proposal failed (then Due is the end of the backoff). Nothing to do.
	KindCancelled Kind = "cancelled"
)

// Decision is what the machine puts in its outbox (Machine.Ready).
type Decision struct {
	Kind Kind `json:"kind"`
	// Target is the role the proposal, schedule or cancellation is about.
	Target Role `json:"target"`
	// Cause of the proposal: "need", "empty", "surplus", "ineligible" or
	// "suspended" (a caller may carry a suspended node's demotion out
	// without a hand-over: its leaves have failed over already).
	Cause  string    `json:"cause,omitempty"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	// Due: when a scheduled proposal fires, or when a backoff ends.
	Due time.Time `json:"due,omitzero"`
	// Score of the node when the decision was made, in [0,1].
	Score float64 `json:"score"`
}

// IsProposal reports whether the caller must act on d (promote or demote)
// and then report RoleChanged or RoleChangeFailed.
func (d Decision) IsProposal() bool { return d.Kind == KindPromote || d.Kind == KindDemote }

func (d Decision) String() string {
	s := fmt.Sprintf("%s → %s at %s", d.Kind, d.Target, d.At.Format(time.RFC3339))
	if !d.Due.IsZero() {
		s += fmt.Sprintf(", due %s (+%s)", d.Due.Format(time.RFC3339), d.Due.Sub(d.At).Round(time.Second))
	}
	return fmt.Sprintf("%s, score %.2f: %s", s, d.Score, d.Reason)
}
