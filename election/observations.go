package election

import (
	"fmt"
	"math"
	"reflect"
	"time"
)

// Observation is an input to Machine.Step. The set is closed: Tick, Uptime,
// Reachability, Bandwidth, Resources, Demand, Load, Supernodes, Candidate,
// Suspended, RoleChanged and RoleChangeFailed. Each carries At, the time it was measured or
// happened; the machine's clock is the latest At it has seen.
type Observation interface {
	observedAt() time.Time
	check() error
}

// Tick only advances the clock. Call it regularly (a fraction of
// DemandWindow, and at Status().Pending.Due) so timers fire without
// other input.
type Tick struct {
	At time.Time
}

// Uptime reports the current session and the persisted history (see
// UptimeHistory.Uptime). Current uptime is At's clock minus SessionStart,
// so it grows with every Tick; report again only on restart or when the
// history changes.
type Uptime struct {
	SessionStart time.Time
	// Average session length over the persisted history (0 with no history).
	Average time.Duration
	// Sessions in that history; 0 means the average is unknown.
	Sessions int
	At       time.Time
}

// Reachability is the result of a dial-back by another node. Reachable
// without VerifiedBy is rejected (ErrUnverifiedReachability): it is never
// assumed. A result older than Config.ReachabilityTTL counts as unknown.
type Reachability struct {
	Reachable bool
	// VerifiedBy names the node that dialled back (a peer ID).
	VerifiedBy string
	At         time.Time
}

// Bandwidth is an upload rate measured by a real transfer.
type Bandwidth struct {
	// Upload in bytes per second.
	Upload int64
	At     time.Time
}

// Resources is the node's own free CPU and memory, as fractions in [0,1].
type Resources struct {
	CPU, Mem float64
	At       time.Time
}

// Demand is one supernode's load as carried in a heartbeat reply (our
// X-Ultrapeer-Needed), or in supernode-to-supernode gossip. Never feed the
// node's own load here; that is Load.
type Demand struct {
	// From identifies the reporting supernode; a newer report replaces an
	// older one from the same supernode.
	From string
	// Rho is its measured utilisation λ/μ (may exceed 1 when overloaded).
	Rho float64
	// Leaves attached now, and its capacity (> 0).
	Leaves, MaxLeaves int
	// Leaving: the reporter has a demotion scheduled or in flight (its own
	// Machine.Leaving). A supernode deciding on surplus counts it as gone:
	// its load goes to the ones that stay, and it is not ranked.
	Leaving bool
	// Score: the reporter's election score in [0,1] (Status.Score); it
	// orders surplus demotions, the weakest first.
	Score float64
	At    time.Time
}

// Load is the node's own load while it is a supernode, measured like the Rho
// it puts in its heartbeat replies. Ignored while a leaf.
type Load struct {
	Rho    float64
	Leaves int
	// MaxLeaves is the capacity; 0 means Config.MaxLeaves.
	MaxLeaves int
	At        time.Time
}

// Supernodes is how many other supernodes the node can reach now (a leaf:
// ones it can connect to; a supernode: peers in the supernode DHT). Report it
// whenever it changes. Zero, with no fresh Demand report, is an empty overlay.
type Supernodes struct {
	Reachable int
	At        time.Time
}

// Candidate reports that another node, a leaf, has a promotion pending (its
// own Machine.Candidate), heard from that node or relayed by peers. A leaf that can reach no supernode defers to
// every fresh candidate that ranks above it (a higher score, or an equal
// one within the score tie and a higher ID), so an empty overlay promotes
// one node, not every node that finds it empty. Reports older than
// ReportTTL are ignored.
type Candidate struct {
	// From identifies the candidate (its peer ID, as Config.ID names it).
	From string
	// Score: the candidate's election score in [0,1] (Status.Score).
	Score float64
	// At: when the candidate itself said so (a relayed candidacy: when it
	// was heard, minus the age the relay reported).
	At time.Time
}

// Suspended reports that the process was suspended — the machine slept,
// or the process was stopped — and woke at At, having been away at least
// Slept: the caller's wall clock jumped ahead of its monotonic clock, or its
// periodic ticks were missed by far more than the tick. A supernode that
// slept steps down at once (its leaves failed over as for a dead one; it
// comes back only through the election); measurements and reports from
// before the sleep are dropped, and current uptime counts from At.
type Suspended struct {
	Slept time.Duration
	At    time.Time
}

// RoleChanged reports that the node now runs as Role: the caller carried out
// a proposal, or changed the role on its own (operator, restored state).
type RoleChanged struct {
	Role Role
	At   time.Time
}

// RoleChangeFailed reports that the proposal in flight could not be carried
// out; the role is unchanged and the machine backs off.
type RoleChangeFailed struct {
	Err error
	At  time.Time
}

func (o Tick) observedAt() time.Time             { return o.At }
func (o Uptime) observedAt() time.Time           { return o.At }
func (o Reachability) observedAt() time.Time     { return o.At }
func (o Bandwidth) observedAt() time.Time        { return o.At }
func (o Resources) observedAt() time.Time        { return o.At }
func (o Demand) observedAt() time.Time           { return o.At }
func (o Load) observedAt() time.Time             { return o.At }
func (o Supernodes) observedAt() time.Time       { return o.At }
func (o Candidate) observedAt() time.Time        { return o.At }
func (o Suspended) observedAt() time.Time        { return o.At }
func (o RoleChanged) observedAt() time.Time      { return o.At }
func (o RoleChangeFailed) observedAt() time.Time { return o.At }

func invalid(kind, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidObservation, kind, fmt.Sprintf(format, args...))
}

// checkObservation checks o's fields (its check) and its time: every
// observation carries a non-zero At.
func checkObservation(o Observation) error {
	if err := o.check(); err != nil {
		return err
	}
	if o.observedAt().IsZero() {
		return invalid(reflect.TypeOf(o).Name(), "zero At")
	}
	return nil
}

// checkScore checks a reported election score.
func checkScore(kind string, score float64) error {
	if !(score >= 0 && score <= 1) { // also NaN
		return invalid(kind, "Score %v outside [0,1]", score)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (o Tick) check() error { return nil }

func (o Uptime) check() error {
	switch {
	case o.SessionStart.IsZero():
		return invalid("Uptime", "zero SessionStart")
	case o.SessionStart.After(o.At):
		return invalid("Uptime", "SessionStart %v after At %v", o.SessionStart, o.At)
	case o.Average < 0 || o.Sessions < 0:
		return invalid("Uptime", "negative Average %v or Sessions %d", o.Average, o.Sessions)
	}
	return nil
}

func (o Reachability) check() error {
	if o.Reachable && o.VerifiedBy == "" {
		return fmt.Errorf("%w: %w: Reachable without VerifiedBy", ErrInvalidObservation, ErrUnverifiedReachability)
	}
	return nil
}

func (o Bandwidth) check() error {
	if o.Upload < 0 {
		return invalid("Bandwidth", "negative Upload %d", o.Upload)
	}
	return nil
}

func (o Resources) check() error {
	for _, f := range []float64{o.CPU, o.Mem} {
		if !finite(f) || f < 0 || f > 1 {
			return invalid("Resources", "CPU %v and Mem %v must be in [0,1]", o.CPU, o.Mem)
		}
	}
	return nil
}

// maxRho bounds a reported utilisation; far beyond any real overload, it
// keeps sums of reports finite.
const maxRho = 1e6

func checkLoad(kind string, rho float64, leaves, maxLeaves int, maxMayBeZero bool) error {
	switch {
	case !finite(rho) || rho < 0 || rho > maxRho:
		return invalid(kind, "Rho %v must be in [0, %g]", rho, float64(maxRho))
	case leaves < 0 || leaves > math.MaxInt32:
		return invalid(kind, "Leaves %d out of range", leaves)
	case maxLeaves < 0 || maxLeaves > math.MaxInt32 || (maxLeaves == 0 && !maxMayBeZero):
		return invalid(kind, "MaxLeaves %d out of range", maxLeaves)
	}
	return nil
}

func (o Demand) check() error {
	if o.From == "" {
		return invalid("Demand", "empty From")
	}
	if err := checkLoad("Demand", o.Rho, o.Leaves, o.MaxLeaves, false); err != nil {
		return err
	}
	return checkScore("Demand", o.Score)
}

func (o Load) check() error { return checkLoad("Load", o.Rho, o.Leaves, o.MaxLeaves, true) }

func (o Supernodes) check() error {
	if o.Reachable < 0 {
		return invalid("Supernodes", "negative Reachable %d", o.Reachable)
	}
	return nil
}

func (o Candidate) check() error {
	if o.From == "" {
		return invalid("Candidate", "empty From")
	}
	return checkScore("Candidate", o.Score)
}

func (o Suspended) check() error {
	if o.Slept <= 0 {
		return invalid("Suspended", "Slept %v must be > 0", o.Slept)
	}
	return nil
}

func (o RoleChanged) check() error {
	if !o.Role.valid() {
		return invalid("RoleChanged", "unknown role %d", uint8(o.Role))
	}
	return nil
}

func (o RoleChangeFailed) check() error { return nil }

// errText renders a failure cause for reasons.
func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}
