// Package election decides when a supertracker node should become a
// supernode and when it should go back to being a leaf.
//
// It is a pure decision state machine in the style of etcd-io/raft: no
// clock, no socket, no libp2p, no goroutine. Observations go in through
// Machine.Step (each carries its own time), decisions and their reasons come
// out through an outbox drained with Machine.Ready. Randomness (the jitter)
// comes from an injected *rand.Rand, so the same seed and the same inputs give
// the same decisions.
//
// # Rules
//
// Eligible: reachable from outside (verified by another node's dial-back,
// never assumed), current uptime ≥ MinUptime or average session ≥
// MinAvgUptime, measured upload ≥ MinUpload, and CPU and memory headroom ≥
// MinHeadroom. A missing or stale measurement is not eligible.
//
// Needed: supernodes report ρ = λ/μ and leaves/capacity in heartbeat
// replies. A leaf promotes only when mean ρ ≥ PromoteRho or fill ≥
// PromoteFill has held for DemandWindow, or when no supernode has been
// reachable for DemandWindow (an empty overlay bootstraps itself). An empty
// overlay promotes one node, not every node that finds it empty: a leaf
// with a promotion scheduled or in flight is a candidate (Machine.Candidate)
// and says so, with its score, in its probe answers; a leaf that hears of a
// candidate ranked above it (Candidate observations; higher score, then
// higher ID) waits for it, and goes itself only if that candidacy goes
// stale (ReportTTL) while the overlay is still empty.
//
// Demote: surplus (ρ ≤ DemoteRho and fill ≤ DemoteFill over the supernode and
// its peers, held for DemandWindow, and the survivors would stay under the
// promote thresholds), never for the sole supernode; or lost eligibility,
// held for DemandWindow.
//
// Suspension: a desktop sleeps. The caller reports a wake-up (Suspended:
// its wall clock jumped ahead of its monotonic clock, or its ticks were
// missed by far more than the tick). A supernode whose role began before
// it proposes leaf at once, with cause and reason "suspended" (no dwell,
// no stagger: its leaves saw a dead supernode and failed over); every
// measurement and report from before the sleep is dropped, a scheduled
// proposal is cancelled, and current uptime counts from the wake-up, so the
// node comes back only through the election.
//
// No flapping: separate promote and demote thresholds, MinDwell in each role,
// and staggering. A candidate waits (1−score)·StaggerMax + jitter (score
// ranks uptime and bandwidth), then re-checks: if the supernodes promoted
// meanwhile absorbed the demand, it cancels. Surplus demotions go in order,
// the weakest first: supernodes put their score and a Leaving flag in the
// load reports they exchange (Demand.Score, Demand.Leaving; answer with
// Status().Score and Machine.Leaving). A supernode waits DemoteSlot per
// staying peer ranked below it (at most three), then re-checks, flags itself
// Leaving, and proposes a slot later after re-checking again; its surplus
// projection spreads the load of every peer flagged Leaving over the ones
// that stay. So supernodes of equal score do not all leave at once, each
// counting only its own departure. A failed role change backs off
// exponentially from Backoff to MaxBackoff.
//
// # Driving the machine
//
// Decisions are proposals. The caller carries them out and reports back, so
// Role is always what the caller committed:
//
//	m, err := election.New(election.DefaultConfig(), time.Now(), rand.New(rand.NewPCG(s1, s2)))
//	...
//	hist.Begin(time.Now())                       // UptimeHistory loaded from disk
//	u, _ := hist.Uptime(time.Now())
//	m.Step(u)                                    // at start and after each history change
//	for {
//		select {
//		case r := <-dialBacks:                   // another node dialled us back
//			m.Step(election.Reachability{Reachable: r.OK, VerifiedBy: r.Peer, At: r.At})
//		case b := <-bandwidthTests:              // a real transfer finished
//			m.Step(election.Bandwidth{Upload: b.BytesPerSec, At: b.At})
//		case h := <-heartbeatReplies:            // from each supernode we talk to
//			m.Step(election.Demand{From: h.Peer, Rho: h.Rho, Leaves: h.Leaves, MaxLeaves: h.MaxLeaves, Leaving: h.Leaving, Score: h.Score, At: h.At})
//		case n := <-supernodeCount:              // whenever it changes
//			m.Step(election.Supernodes{Reachable: n, At: time.Now()})
//		case c := <-candidacies:                 // leaves' probe answers (Candidate())
//			m.Step(election.Candidate{From: c.Peer, Score: c.Score, At: c.At})
//		case now := <-ticker.C:                  // e.g. every few seconds
//			if gap := now.Sub(last); gap > 10*tick || now.Round(0).Sub(last.Round(0))-gap > 10*tick {
//				m.Step(election.Suspended{Slept: gap, At: now}) // missed ticks, or wall clock ahead of monotonic
//			}
//			last = now
//			m.Step(election.Resources{CPU: cpuFree(), Mem: memFree(), At: now})
//			if m.Role() == election.RoleSupernode {
//				m.Step(election.Load{Rho: ownRho(), Leaves: ownLeaves(), At: now})
//			}
//			hist.Touch(now); persist(hist)
//			u, _ := hist.Uptime(now)
//			m.Step(u)
//			m.Tick(now)
//		case res := <-roleChangeDone:            // our own worker finished
//			if res.Err != nil {
//				m.Step(election.RoleChangeFailed{Err: res.Err, At: res.At})
//			} else {
//				m.Step(election.RoleChanged{Role: res.Role, At: res.At})
//			}
//		}
//		for _, d := range m.Ready() {
//			log.Print(d)                         // schedules and cancellations too
//			if d.IsProposal() {
//				go changeRole(d.Target)          // hand leaves over / join the DHT; reports to roleChangeDone
//			}
//		}
//	}
//
// Status returns a JSON-tagged snapshot for `status --json`; its String
// method renders it for `status`.
package election
