package election

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Machine is the election state machine of one node. It holds no clock, no
// socket and no goroutine: the caller feeds observations with Step (time
// included), drains decisions with Ready, carries out proposals and reports
// the outcome with RoleChanged or RoleChangeFailed. The role it reports is
// only ever the one the caller committed.
//
// A Machine is not safe for concurrent use; guard it with a mutex or drive
// it from one goroutine.
type Machine struct {
	cfg Config
	rng *rand.Rand
	now time.Time

	role    Role
	since   time.Time
	changes int

	// Latest measurements (nil: never observed).
	uptime     *Uptime
	reach      *Reachability
	bandwidth  *Bandwidth
	resources  *Resources
	load       *Load
	supernodes *Supernodes
	reports    map[string]Demand
	candidates map[string]Candidate

	// The last wake-up from a suspension (zero: none) and how long the
	// node was away: current uptime counts from wokeAt, and a supernode
	// whose role began before it steps down.
	wokeAt time.Time
	slept  time.Duration

	// Start of the current uninterrupted run of each condition (zero: off).
	needSince, emptySince, surplusSince, ineligibleSince time.Time

	pending      *pending
	failures     int // consecutive failed role changes
	backoffUntil time.Time

	outbox  []Decision
	last    Decision
	hasLast bool
}

type cause uint8

const (
	causeNeed cause = iota + 1
	causeEmpty
	causeSurplus
	causeIneligible
	causeSuspended
)

// pending is a scheduled proposal, or one in flight once proposed is set.
type pending struct {
	target           Role
	cause            cause
	reason           string
	scheduledAt, due time.Time
	// Surplus demotions: turn is when the wait for weaker supernodes ends
	// (DemoteSlot per one ranked below, at most maxRankSlots). At its turn
	// the node re-checks and, if the surplus holds, announces it is leaving
	// (leaving); it proposes at due, a notice period later, so the others
	// see the flag first. Between the checks, report noise does not cancel.
	turn     time.Time
	leaving  bool
	score    float64
	proposed bool
	// passes: times a need promotion fell due and the draw left it to
	// other leaves (share.go).
	passes int
}

// New returns a machine in RoleLeaf since now. rng supplies the jitter; pass
// a seeded one (rand.New(rand.NewPCG(seed1, seed2))) for reproducible runs;
// nil means a randomly seeded source. A node that starts as a supernode
// reports RoleChanged{RoleSupernode} right away.
func New(cfg Config, now time.Time, rng *rand.Rand) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now.IsZero() {
		return nil, fmt.Errorf("%w: zero start time", ErrInvalidConfig)
	}
	if rng == nil {
		rng = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return &Machine{
		cfg:        cfg,
		rng:        rng,
		now:        now,
		role:       RoleLeaf,
		since:      now,
		reports:    make(map[string]Demand),
		candidates: make(map[string]Candidate),
	}, nil
}

// Role returns the committed role.
func (m *Machine) Role() Role { return m.role }

// Leaving reports whether the node, a supernode, is on its way out: a
// demotion in flight, or scheduled and no longer waiting for weaker
// supernodes to go first. Put it in the load reports other supernodes read
// (Demand.Leaving): they then count it as gone.
func (m *Machine) Leaving() bool {
	p := m.pending
	return m.role == RoleSupernode && p != nil && p.target == RoleLeaf && (p.proposed || p.leaving)
}

// Candidate reports whether the node, a leaf, has a promotion scheduled or
// in flight. Put it in probe answers, with Status().Score: leaves of an
// empty overlay that rank below it wait for it (their Candidate
// observations), so one node bootstraps the overlay, not all of them.
func (m *Machine) Candidate() bool {
	p := m.pending
	return m.role == RoleLeaf && p != nil && p.target == RoleSupernode
}

// maxRankSlots caps the wait for weaker supernodes: with partial views a
// node ranked far down would otherwise wait long for peers that may never
// see a surplus themselves. Nodes sharing the last slot announce together
// and each one's re-check counts the others as leaving.
const maxRankSlots = 3

// Config returns the configuration the machine runs with.
func (m *Machine) Config() Config { return m.cfg }

// Now returns the machine's clock: the latest time it has been given.
func (m *Machine) Now() time.Time { return m.now }

// Ready drains the outbox: proposals (IsProposal) the caller must carry out,
// and informational schedules and cancellations, oldest first.
func (m *Machine) Ready() []Decision {
	out := m.outbox
	m.outbox = nil
	return out
}

// HasReady reports whether Ready would return anything.
func (m *Machine) HasReady() bool { return len(m.outbox) > 0 }

// Tick advances the clock to now (a zero or earlier time is ignored) and
// lets due timers fire. Same as Step(Tick{At: now}).
func (m *Machine) Tick(now time.Time) {
	if now.IsZero() {
		return
	}
	_ = m.Step(Tick{At: now}) // a Tick with a non-zero time is always valid
}

// Step feeds one observation, advances the clock to its time if later, and
// re-evaluates. An invalid observation returns an error wrapping
// ErrInvalidObservation (or ErrNoProposal) and changes nothing. A
// measurement older than the one held is ignored.
func (m *Machine) Step(o Observation) error {
	if o == nil {
		return fmt.Errorf("%w: nil observation", ErrInvalidObservation)
	}
	if err := checkObservation(o); err != nil {
		return err
	}
	if f, ok := o.(RoleChangeFailed); ok && (m.pending == nil || !m.pending.proposed) {
		return fmt.Errorf("%w: RoleChangeFailed: %s", ErrNoProposal, errText(f.Err))
	}
	if at := o.observedAt(); at.After(m.now) {
		m.now = at
	}
	// A measurement taken before the last wake-up describes the time
	// before the sleep (a probe that was under way): ignored.
	asleep := o.observedAt().Before(m.wokeAt)
	switch o := o.(type) {
	case Tick:
	case Uptime:
		keepNewer(&m.uptime, o)
	case Reachability:
		keepNewerAwake(&m.reach, o, asleep)
	case Bandwidth:
		keepNewerAwake(&m.bandwidth, o, asleep)
	case Resources:
		keepNewerAwake(&m.resources, o, asleep)
	case Load:
		keepNewerAwake(&m.load, o, asleep)
	case Supernodes:
		keepNewerAwake(&m.supernodes, o, asleep)
	case Demand:
		if r, ok := m.reports[o.From]; !asleep && (!ok || !o.At.Before(r.At)) {
			m.reports[o.From] = o
		}
	case Candidate:
		if r, ok := m.candidates[o.From]; !asleep && o.From != m.cfg.ID && (!ok || !o.At.Before(r.At)) {
			m.candidates[o.From] = o
		}
	case Suspended:
		m.suspend(o)
	case RoleChanged:
		m.roleChanged(o)
	case RoleChangeFailed:
		m.failed(o.Err)
	}
	m.evaluate()
	return nil
}

func keepNewer[T Observation](cur **T, o T) {
	if *cur == nil || !o.observedAt().Before((**cur).observedAt()) {
		*cur = &o
	}
}

func keepNewerAwake[T Observation](cur **T, o T, asleep bool) {
	if !asleep {
		keepNewer(cur, o)
	}
}

// dropBefore forgets a measurement taken before t.
func dropBefore[T Observation](cur **T, t time.Time) {
	if *cur != nil && (**cur).observedAt().Before(t) {
		*cur = nil
	}
}

// suspend handles a wake-up: what was measured or reported before the
// sleep no longer describes the node or the overlay (its leaves failed
// over, its network may have changed), conditions start over, a backoff
// ends, and a scheduled proposal is dropped. A supernode whose role began
// before the wake-up then steps down (evalSupernode).
func (m *Machine) suspend(o Suspended) {
	if !o.At.After(m.wokeAt) {
		return // this wake-up, or an earlier one, was handled
	}
	m.wokeAt, m.slept = o.At, o.Slept
	dropBefore(&m.reach, o.At)
	dropBefore(&m.bandwidth, o.At)
	dropBefore(&m.resources, o.At)
	dropBefore(&m.load, o.At)
	dropBefore(&m.supernodes, o.At)
	for k, r := range m.reports {
		if r.At.Before(o.At) {
			delete(m.reports, k)
		}
	}
	for k, c := range m.candidates {
		if c.At.Before(o.At) {
			delete(m.candidates, k)
		}
	}
	m.needSince, m.emptySince, m.surplusSince, m.ineligibleSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	m.failures, m.backoffUntil = 0, time.Time{}
	if p := m.pending; p != nil && !p.proposed {
		m.cancel(fmt.Sprintf("suspended for %s: measurements start over from the wake-up", o.Slept.Round(time.Millisecond)))
	}
}

// sleptAsSupernode: the node has been a supernode since before its last
// wake-up.
func (m *Machine) sleptAsSupernode() bool {
	return m.role == RoleSupernode && !m.wokeAt.IsZero() && m.since.Before(m.wokeAt)
}

// sessionStart is when current uptime starts counting: the session's start,
// or the last wake-up if later. Nil without an Uptime observation.
func (m *Machine) sessionStart() (time.Time, bool) {
	if m.uptime == nil {
		return time.Time{}, false
	}
	s := m.uptime.SessionStart
	if m.wokeAt.After(s) {
		s = m.wokeAt
	}
	return s, true
}

func (m *Machine) roleChanged(o RoleChanged) {
	p := m.pending
	if o.Role == m.role {
		if p != nil && p.proposed {
			m.failed(fmt.Errorf("caller reported role %s unchanged", o.Role))
		}
		return
	}
	m.pending = nil
	if p != nil && !p.proposed {
		m.emit(Decision{Kind: KindCancelled, Target: p.target, Cause: p.cause.String(), Reason: "role changed to " + o.Role.String() + " by the caller", At: m.now, Score: p.score})
	}
	m.role, m.since = o.Role, o.At
	m.changes++
	m.failures, m.backoffUntil = 0, time.Time{}
	m.needSince, m.emptySince, m.surplusSince, m.ineligibleSince = time.Time{}, time.Time{}, time.Time{}, time.Time{}
}

// failed ends the proposal in flight and starts an exponential backoff.
func (m *Machine) failed(err error) {
	p := m.pending
	m.pending = nil
	m.failures++
	b := m.cfg.Backoff
	for i := 1; i < m.failures && b < m.cfg.MaxBackoff; i++ {
		if b > m.cfg.MaxBackoff/2 {
			b = m.cfg.MaxBackoff
			break
		}
		b *= 2
	}
	b = min(b, m.cfg.MaxBackoff) + m.jitter()
	m.backoffUntil = m.now.Add(b)
	m.emit(Decision{
		Kind:   KindCancelled,
		Target: p.target,
		Cause:  p.cause.String(),
		Reason: fmt.Sprintf("becoming %s failed (%s); failure %d, backing off %s", p.target, errText(err), m.failures, b.Round(time.Millisecond)),
		At:     m.now,
		Due:    m.backoffUntil,
		Score:  p.score,
	})
}

func (m *Machine) jitter() time.Duration {
	if m.cfg.Jitter <= 0 {
		return 0
	}
	return time.Duration(m.rng.Int64N(int64(m.cfg.Jitter)))
}

func (m *Machine) emit(d Decision) {
	m.outbox = append(m.outbox, d)
	m.last, m.hasLast = d, true
}

// snapshot is everything derived from the measurements at the clock.
type snapshot struct {
	criteria []Criterion
	eligible bool
	demand   demandView

	need, empty, surplus          bool
	needWhy, emptyWhy, surplusWhy lazyText
	score                         float64
}

// snapshot derives the state at the clock; explain fills the criteria's
// human details (for Status), which evaluation does not need.
func (m *Machine) snapshot(explain bool) snapshot {
	s := snapshot{criteria: m.criteria(explain), demand: m.demand(), score: m.score()}
	s.eligible = eligible(s.criteria)
	s.need, s.needWhy = m.need(s.demand)
	s.empty, s.emptyWhy = m.empty(s.demand)
	s.surplus, s.surplusWhy = m.surplus(s.demand)
	return s
}

func (m *Machine) prune() {
	for k, r := range m.reports {
		if !fresh(m.now, r.At, m.cfg.ReportTTL) {
			delete(m.reports, k)
		}
	}
	for k, c := range m.candidates {
		if !fresh(m.now, c.At, m.cfg.ReportTTL) {
			delete(m.candidates, k)
		}
	}
}

func track(since *time.Time, on bool, now time.Time) {
	switch {
	case !on:
		*since = time.Time{}
	case since.IsZero():
		*since = now
	}
}

// sustained: the condition has held for at least DemandWindow.
func (m *Machine) sustained(since time.Time) bool {
	return !since.IsZero() && m.now.Sub(since) >= m.cfg.DemandWindow
}

// canAct: dwell time served and no backoff running. MinDwell holds after a
// role change; the role a node starts in is bounded by MinUptime instead
// (a new node must not wait MinDwell on top of it to promote).
func (m *Machine) canAct() bool {
	return !m.now.Before(m.dwellUntil()) && !m.now.Before(m.backoffUntil)
}

// dwellUntil is the earliest time the machine may propose leaving its role.
func (m *Machine) dwellUntil() time.Time {
	if m.changes == 0 {
		return m.since
	}
	return m.since.Add(m.cfg.MinDwell)
}

func (m *Machine) evaluate() {
	m.prune()
	s := m.snapshot(false)
	leaf := m.role == RoleLeaf
	track(&m.needSince, leaf && s.need, m.now)
	track(&m.emptySince, leaf && s.empty, m.now)
	track(&m.surplusSince, !leaf && s.surplus, m.now)
	track(&m.ineligibleSince, !leaf && !s.eligible, m.now)
	if m.pending != nil && m.pending.proposed {
		return // waiting for RoleChanged or RoleChangeFailed
	}
	if leaf {
		m.evalLeaf(s)
	} else {
		m.evalSupernode(s)
	}
}

func (m *Machine) evalLeaf(s snapshot) {
	if p := m.pending; p != nil {
		switch {
		case !s.eligible:
			m.cancel("no longer eligible: " + failing(s.criteria))
		case !s.need && !s.empty:
			m.cancel("demand re-checked and gone: " + s.needWhy.String())
		case !s.need && s.demand.above > 0:
			m.cancel("empty overlay, but " + s.demand.aboveText() + " promotes first")
		case !m.now.Before(p.due) && p.cause == causeNeed && s.need && !m.drawsPromotion(s.demand, s.score):
			// Not this leaf's turn (share.go): re-check after another stagger.
			p.due = m.now.Add(m.cfg.StaggerMax + m.jitter())
			p.passes++
		case !m.now.Before(p.due):
			r := s.needWhy
			if !s.need {
				r = s.emptyWhy
			}
			m.propose(r.String())
		}
		return
	}
	if !m.canAct() || !s.eligible {
		return
	}
	switch {
	case m.sustained(m.needSince):
		m.schedule(RoleSupernode, causeNeed, m.held(s.needWhy, m.needSince), 1-s.score, s.score)
	case m.sustained(m.emptySince) && s.demand.above == 0:
		// (With a candidate ranked above, wait: it bootstraps the overlay,
		// and once it serves, this node finds it and the overlay is not
		// empty; if it fails, its candidacy goes stale in ReportTTL.)
		m.schedule(RoleSupernode, causeEmpty, m.held(s.emptyWhy, m.emptySince), 1-s.score, s.score)
	}
}

func (m *Machine) evalSupernode(s snapshot) {
	if m.sleptAsSupernode() {
		// Its leaves saw a dead supernode and failed over; records it held
		// live on others. Step down at once: no dwell, no stagger, no
		// hand-over to wait for. Back as a supernode only through the
		// election, with uptime counted from the wake-up.
		if !m.now.Before(m.backoffUntil) {
			m.pending = &pending{target: RoleLeaf, cause: causeSuspended, scheduledAt: m.now, due: m.now, turn: m.now, score: s.score}
			m.propose(fmt.Sprintf("suspended: asleep for %s, woke at %s; a supernode that slept steps down at once",
				m.slept.Round(time.Millisecond), m.wokeAt.Format(time.RFC3339)))
		}
		return
	}
	lost := m.sustained(m.ineligibleSince)
	if p := m.pending; p != nil {
		switch {
		case lost:
			p.cause = causeIneligible
			m.propose(m.held(why("lost eligibility: %s", failing(s.criteria)), m.ineligibleSince))
		case !p.leaving && m.now.Before(p.turn):
			// Waiting for weaker supernodes to go first; re-checked at the turn.
		case !s.surplus:
			m.cancel("surplus re-checked and gone: " + s.surplusWhy.String())
		case !p.leaving:
			p.leaving = true // our turn: the load reports now say we leave
		case !m.now.Before(p.due):
			m.propose(s.surplusWhy.String())
		}
		return
	}
	if !m.canAct() {
		return
	}
	switch {
	case lost:
		m.schedule(RoleLeaf, causeIneligible, m.held(why("lost eligibility: %s", failing(s.criteria)), m.ineligibleSince), -1, s.score)
	case m.sustained(m.surplusSince):
		// The weakest leave first: one DemoteSlot per staying reporter
		// ranked below us, then the strongest wait longest within a slot.
		reason := m.held(s.surplusWhy, m.surplusSince)
		slots := min(s.demand.below, maxRankSlots)
		if slots > 0 && m.cfg.DemoteSlot > 0 {
			reason += fmt.Sprintf("; %d weaker supernode(s) go first", s.demand.below)
		}
		wait := time.Duration(slots) * m.cfg.DemoteSlot
		m.scheduleAfter(RoleLeaf, causeSurplus, reason, wait, m.cfg.DemoteSlot, s.score, s.score)
		if p := m.pending; p != nil && !p.proposed && !m.now.Before(p.turn) {
			p.leaving = true // no one to wait for: announce at once
		}
	}
}

func (m *Machine) held(r fmt.Stringer, since time.Time) string {
	return fmt.Sprintf("%s, for %s", r, m.now.Sub(since).Round(time.Second))
}

// schedule sets a pending proposal due after frac·StaggerMax + jitter; a
// negative frac means at once (no stagger, no jitter).
func (m *Machine) schedule(target Role, c cause, reason string, frac, score float64) {
	m.scheduleAfter(target, c, reason, 0, 0, frac, score)
}

// scheduleAfter is schedule with the turn after wait and the proposal a
// notice period after the turn, before the stagger and jitter.
func (m *Machine) scheduleAfter(target Role, c cause, reason string, wait, notice time.Duration, frac, score float64) {
	var delay time.Duration
	turn := m.now
	if frac >= 0 {
		turn = m.now.Add(wait)
		delay = wait + notice + time.Duration(clamp01(frac)*float64(m.cfg.StaggerMax)) + m.jitter()
	}
	m.pending = &pending{target: target, cause: c, reason: reason, scheduledAt: m.now, due: m.now.Add(delay), turn: turn, score: score}
	if delay <= 0 {
		m.propose(reason)
		return
	}
	m.emit(Decision{Kind: KindScheduled, Target: target, Cause: c.String(), Reason: reason, At: m.now, Due: m.pending.due, Score: score})
}

// propose turns the pending schedule into a proposal in flight.
func (m *Machine) propose(reason string) {
	p := m.pending
	p.proposed = true
	if waited := m.now.Sub(p.scheduledAt); waited > 0 {
		reason += fmt.Sprintf(" (re-checked after waiting %s)", waited.Round(time.Millisecond))
	}
	if p.passes > 0 {
		reason += fmt.Sprintf("; its turn drawn after %d pass(es)", p.passes)
	}
	p.reason = reason
	kind := KindPromote
	if p.target == RoleLeaf {
		kind = KindDemote
	}
	m.emit(Decision{Kind: kind, Target: p.target, Cause: p.cause.String(), Reason: reason, At: m.now, Score: p.score})
}

func (m *Machine) cancel(reason string) {
	p := m.pending
	m.pending = nil
	m.emit(Decision{Kind: KindCancelled, Target: p.target, Cause: p.cause.String(), Reason: reason, At: m.now, Score: p.score})
}
