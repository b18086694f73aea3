package election_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/supertracker/supertracker/election"
)

// Example shows the caller's loop with a simulated clock: the node starts in
// an empty overlay, promotes itself once eligible, and demotes for surplus
// after another supernode appears and both are idle. The caller carries out
// each proposal (here: one second later) and reports the committed role.
func Example() {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m, err := election.New(election.LocalConfig(), start, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		panic(err)
	}
	var hist election.UptimeHistory
	_ = hist.Begin(start)

	var changing *election.Decision // a proposal being carried out
	for now := start; now.Before(start.Add(3 * time.Minute)); now = now.Add(time.Second) {
		// Measurements, as the node's own probes produce them.
		if now.Sub(start)%(10*time.Second) == 0 {
			_ = hist.Touch(now)
			u, _ := hist.Uptime(now)
			_ = m.Step(u)
			_ = m.Step(election.Reachability{Reachable: true, VerifiedBy: "12D3KooWDialer", At: now})
			_ = m.Step(election.Bandwidth{Upload: 2 << 20, At: now})
			_ = m.Step(election.Resources{CPU: 0.6, Mem: 0.7, At: now})
		}
		// What the overlay reports: nobody at first; from +90s another
		// supernode, lightly loaded, in heartbeat/gossip replies.
		if now.Sub(start) < 90*time.Second {
			_ = m.Step(election.Supernodes{Reachable: 0, At: now})
		} else {
			_ = m.Step(election.Supernodes{Reachable: 1, At: now})
			_ = m.Step(election.Demand{From: "12D3KooWOther", Rho: 0.1, Leaves: 2, MaxLeaves: 10, Score: 0.9, At: now})
		}
		if m.Role() == election.RoleSupernode {
			_ = m.Step(election.Load{Rho: 0.05, Leaves: 1, At: now})
		}
		// A role change the caller started has finished.
		if changing != nil && now.Sub(changing.At) >= time.Second {
			_ = m.Step(election.RoleChanged{Role: changing.Target, At: now})
			fmt.Printf("+%v now %s\n", now.Sub(start), m.Role())
			changing = nil
		}
		m.Tick(now)
		for _, d := range m.Ready() {
			fmt.Printf("+%v %s %s\n", d.At.Sub(start), d.Kind, d.Target)
			if d.IsProposal() {
				fmt.Println("  because", d.Reason)
				changing = &d // carry it out (asynchronously in a real node)
			}
		}
	}
	st := m.Status()
	fmt.Println("role changes:", st.RoleChanges, "last:", st.LastDecision.Kind)
	// A failure report without a proposal in flight is refused.
	err = m.Step(election.RoleChangeFailed{Err: errors.New("x"), At: start.Add(3 * time.Minute)})
	fmt.Println(errors.Is(err, election.ErrNoProposal))
	// Output:
	// +10s scheduled supernode
	// +22s promote supernode
	//   because no supernode reachable: empty overlay bootstraps (re-checked after waiting 12s)
	// +23s now supernode
	// +1m35s scheduled leaf
	// +1m49s demote leaf
	//   because surplus: ρ 0.08 ≤ 0.30, fill 0.15 ≤ 0.40 over 2 supernodes incl. self; without self ρ 0.15, fill 0.30 (re-checked after waiting 14s)
	// +1m50s now leaf
	// role changes: 2 last: demote
	// true
}
