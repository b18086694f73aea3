package sweep

import (
	"fmt"
	"strings"
)

// writeRepairSection writes "The model with repair" into results.md.
func writeRepairSection(w func(string, ...any), rel string, rep *Report) {
	pl := rep.Plan
	base := pl.Base
	w("## The model with repair\n\n")
	w("The paper names the model with repair as future work (§5: \"extending the models to include the repair process ... the DHT case is more complicated since it also relies on a periodic maintenance mechanism\"). `testnet/model.EvaluateRepair` is that model for the two DHT designs; `supertracker-lab model --repair` evaluates it. ")
	w("A lookup succeeds when its route works and some **live** node holds a **valid** record of the object. Nodes fail and recover independently (exponential up and down times with the tracker profile's MTTF and MTTR). Repair is modelled as the systems do it:\n\n")
	w("- **placement on live nodes**: every announcement stores the record on the r closest *live* nodes (overlay: `GetClosestPeers` among the supernodes, r = m; flat DHT: `Provide` to the k = m closest responding peers);\n")
	w("- **refresh**: every holder re-announces every %s (overlay: record TTL %s; kad-dht: provider records outlive the run), with independent phases, so the more holders an object has the more often its records move to live nodes; the number of live holders of a looked-up object follows the scenario (initial holders, announces, Zipf popularity, tracker-node holders up with P_up);\n", fmtDur(base.Refresh), fmtDur(3*base.Refresh))
	w("- **re-replication on membership change**: an overlay leaf whose primary dies re-announces through its new primary at once;\n")
	w("- **persistence**: a restarted supernode serves its records again (leveldb provider store kept in its data directory), a restarted kad-dht node comes back empty (in-memory store);\n")
	w("- **failover**: an overlay leaf attached to m supernodes moves to a live one when its primary dies; the route fails only when no supernode is up. A flat-DHT issuer is a DHT node itself.\n\n")
	w("Given the instants at which the object's holders announced within the last TTL, the joint state of the first nodes in the object's XOR order (up or down, holding a valid record or not) is a finite Markov chain; the model computes it exactly (4^L states, L ≤ 8) and averages over the holders' refresh phases and failover instants (Monte Carlo, fixed seed) and over the lookup's time in the %s window, which starts with every node up after the warm-up, as the runs do. ", fmtDur(base.Duration-base.Warmup))
	w("*Repair (planning)* uses the scenario's MTTF. *Repair (realized churn)* takes the luck of two seeds' churn schedules out, as the realized-churn column above does for the paper's model: for the overlay the model gives success by the number of supernodes up at the lookup, averaged over the held lookups by how many were up when each was issued; for the flat DHT (some nodes never fail, so the chain does not track them all) it uses the MTTF that gives the tracker nodes the availability the runs realized (shown in the table). The paper's model has no queueing effect here (ρ ≪ 1) and is multiplied in.\n\n")
	w("**Tolerance:** ±%.2f: a point PASSes when the 95%% Wilson interval of its measured success overlaps [repair − %.2f, repair + %.2f] for the realized-churn value. ", RepairTolerance, RepairTolerance, RepairTolerance)
	w("**Assumptions** (decided from the parameters alone, `RepairScope`): every DHT node is in every routing table (≤ 20 nodes: one query round reaches every live replica); ρ ≤ %.1f; and for the overlay, failover is immediate: a leaf keeps a supernode it saw fail out of its candidates for %gs (10 heartbeats), so at MTTF below that the restarted supernodes it could attach to are still barred.\n\n", MaxScopeRho, leafBackoff)
	for _, d := range pl.Designs {
		if d == Server {
			continue
		}
		var n, in, inPass, pass int
		var excs []string
		for _, pr := range rep.Points {
			if pr.Design != d || !pr.HasRepair {
				continue
			}
			n++
			if pr.PassRepair {
				pass++
			}
			if pr.RepairInScope {
				in++
				if pr.PassRepair {
					inPass++
				}
			}
			if !pr.RepairInScope || !pr.PassRepair {
				why := pr.RepairOutOfScope
				if why == "" {
					why = "in scope, FAIL"
				} else {
					why = "out of scope: " + why
				}
				excs = append(excs, fmt.Sprintf("%s (%s; measured %.3f, repair %.3f): %s", fmtX(pr.Sweep, pr.X), why, pr.Rate, pr.RepairRealized, strings.Join(pr.RepairReasons, "; ")))
			}
		}
		if n == 0 {
			continue
		}
		w("**%s: %d of %d points in scope, %d of them PASS; %d of %d PASS in all.**", DesignLabel(d), in, n, inPass, pass, n)
		if len(excs) > 0 {
			w(" Exceptions, each with its measured reason:\n\n")
			for _, e := range excs {
				w("- %s.\n", e)
			}
			w("\n")
		} else {
			w("\n\n")
		}
	}
	w("| sweep | x | design | held | measured [95%% CI] | repair (planning) | repair (realized churn) | Δ | check ±%.2f | in scope | paper's model (realized) | failures |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n", RepairTolerance)
	for _, pr := range rep.Points {
		if !pr.HasRepair {
			continue
		}
		check := "FAIL"
		if pr.PassRepair {
			check = "PASS"
		}
		scope := "yes"
		if !pr.RepairInScope {
			scope = "no"
		}
		how := "by supernodes up"
		if pr.RepairMTTF > 0 {
			how = fmt.Sprintf("MTTF %.1fs", pr.RepairMTTF)
		}
		w("| %s | %g | %s | %d | **%.3f** [%.3f, %.3f] | %.4f | %.4f (%s) | %+.4f | %s | %s | %.3f | %s |\n",
			pr.Sweep, pr.X, DesignLabel(pr.Design), pr.Held, pr.Rate, pr.Lo, pr.Hi, pr.Repair, pr.RepairRealized, how,
			pr.DeltaRepair, check, scope, pr.ModelRealized, outcomeString(pr.Outcomes))
	}
	w("\n")
	for _, s := range pl.Sweeps {
		w("![%s: the model with repair](%s/%s)\n\n", s.Title, rel, repairFigure(s))
	}
}
