package sweep

import (
	"fmt"
	"math"
	"time"

	"github.com/supertracker/supertracker/testnet/metrics"
	"github.com/supertracker/supertracker/testnet/model"
	"github.com/supertracker/supertracker/testnet/workload"
)

// The model with repair (testnet/model.EvaluateRepair) mapped onto a sweep
// point. See docs/results.md, "The model with repair".

// RepairTolerance is the ±X the model with repair is held to at the
// overlay points where its assumptions hold.
const RepairTolerance = 0.01

// leafBackoff is how long a leaf keeps a supernode it saw fail out of its
// candidates (leaf: 10 heartbeats of 1 s).
const leafBackoff = 10.0

// RepairParams maps point p to the model with repair for design d:
//
//   - overlay: the S tracker-profile supernodes hold records on the r = m
//     closest live ones, persistently (leveldb store kept across the
//     restart); leaves refresh every Refresh (record TTL 3·Refresh) and
//     re-announce when their primary dies; a leaf is attached to m
//     supernodes and fails over to any live one;
//   - flat DHT: all N nodes hold records, the S tracker nodes fail, the
//     peers never do; Provide puts a record on the k = m closest, the
//     in-memory provider store is lost in a restart, holders re-Provide
//     every Refresh, provider records outlive the run;
//   - server: no placement (n fixed servers); not covered.
//
// Both start with every node up after the warm-up and average over the
// lookups' times in the Duration−Warmup window; the number of live holders
// of a looked-up object follows the scenario (InitialHolders distinct
// nodes per object, of which the peers count, plus the Zipf-popular
// announces of peers during the window).
func RepairParams(d Design, p Params) (model.RepairParams, bool, error) {
	return repairParams(d, p, 0)
}

// repairParams is RepairParams with the overlay's repair on membership
// change (Plan.MembershipRepair; 0: none).
func repairParams(d Design, p Params, membership time.Duration) (model.RepairParams, bool, error) {
	mttf, mttr := p.MTTF.Seconds(), p.MTTR.Seconds()
	if p.MTTF <= 0 {
		mttf, mttr = 1e12, 0 // no churn
	}
	hold, err := holderDist(p)
	if err != nil {
		return model.RepairParams{}, false, err
	}
	rp := model.RepairParams{MTTF: mttf, MTTR: mttr, Refresh: p.Refresh.Seconds(), Holders: hold,
		Window: (p.Duration - p.Warmup).Seconds(), Samples: 96}
	switch d {
	case Overlay:
		rp.Nodes, rp.Replicas = p.Trackers, p.Replication
		rp.TTL = 3 * p.Refresh.Seconds()
		rp.Persistent, rp.FailoverAnnounce, rp.Attach = true, true, p.Replication
		rp.MembershipRepair = membership.Seconds()
	case FlatDHT:
		rp.Nodes, rp.Mortal, rp.Replicas = p.Nodes(), p.Trackers, min(p.Replication, p.Nodes())
		rp.TTL = math.Max(48*3600, rp.Refresh) // kad-dht provider validity: 48 h
		rp.TTL = math.Min(rp.TTL, 64*rp.Refresh)
	default:
		return rp, false, nil
	}
	return rp, true, nil
}

// RepairScope decides, from the parameters alone, whether the model with
// repair's assumptions hold at p for design d, and names the first that
// fails:
//
//   - every DHT node is in every routing table (≤ 20 nodes: one query
//     round reaches every live replica);
//   - utilisation ρ ≤ MaxScopeRho (no queueing);
//   - failover is immediate: a leaf re-attaches to a live supernode within
//     the lookup timeout. It keeps a supernode it saw fail out of its
//     candidates for leafBackoff (10 s), so with MTTF below that the
//     restarted supernodes it could use are still barred and its lookups
//     time out (the overlay only).
func RepairScope(d Design, p Params, rho float64) (bool, string) {
	switch {
	case p.Nodes() > 20 && d == FlatDHT, p.Trackers > 20 && d == Overlay:
		return false, "more than 20 DHT nodes: lookups take more than one round"
	case rho > MaxScopeRho:
		return false, fmt.Sprintf("ρ = %.2f > %.1f", rho, MaxScopeRho)
	case d == Overlay && p.MTTF > 0 && p.MTTF.Seconds() < leafBackoff:
		return false, fmt.Sprintf("MTTF %s < the leaves' %gs failover backoff: a restarted supernode stays barred, failover is not immediate", p.MTTF, leafBackoff)
	}
	return true, ""
}

// holderDist is the distribution of the number of live holders of a
// looked-up object (index i: i+1 holders), given that a peer holds it (the
// sweep's "held" criterion). A lookup succeeds with any live holder
// returned, tracker nodes included, so: the InitialHolders distinct nodes
// of an object include Hypergeometric(N, peers, h) peers and the rest
// tracker nodes, each up with probability P_up; announces are issued by
// nodes up at that moment, for Zipf-drawn objects, over half the window on
// average (a tracker node's counts if it is still up); a lookup draws its
// object by the same Zipf law.
func holderDist(p Params) ([]float64, error) {
	z, err := workload.NewZipfSampler(p.Objects, 1, 1)
	if err != nil {
		return nil, err
	}
	n, k, h := p.Nodes(), p.Peers, min(p.InitialHolders, p.Nodes())
	pup := p.PUp()
	peerShare := float64(p.Peers) / (float64(p.Peers) + float64(p.Trackers)*pup)
	window := (p.Duration - p.Warmup).Seconds()
	const maxH = 16
	out := make([]float64, maxH)
	for o := range p.Objects {
		q := z.P(o)
		ann := p.AnnounceRate * q * window / 2
		peerAnn, trackerAnn := ann*peerShare, ann*(1-peerShare)*pup
		for j := 0; j <= h; j++ { // j peers among the initial holders
			pj := binom(k, j) * binom(n-k, h-j) / binom(n, h)
			for tu := 0; tu <= h-j; tu++ { // tracker holders up
				pt := binom(h-j, tu) * math.Pow(pup, float64(tu)) * math.Pow(1-pup, float64(h-j-tu))
				for e := 0; e <= maxH; e++ { // peer announces
					pe := poisson(peerAnn, e)
					if j+e == 0 {
						continue // not held
					}
					for f := 0; j+e+tu+f <= maxH; f++ { // live tracker announces
						w := q * pj * pt * pe * poisson(trackerAnn, f)
						out[j+e+tu+f-1] += w
					}
				}
			}
		}
	}
	return out, nil
}

func poisson(mean float64, k int) float64 {
	return math.Exp(-mean + float64(k)*math.Log(math.Max(mean, 1e-300)) - lgamma(k+1))
}

func binom(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	return math.Round(math.Exp(lgamma(n+1) - lgamma(k+1) - lgamma(n-k+1)))
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}

// repairPoint fills the model-with-repair fields of pr. pq is the paper
// model's P_queued for the point (the repair model has no queueing: it
// multiplies in).
//
// The realized-churn value: where the model gives success by the number of
// nodes up at the lookup (the overlay: all S supernodes tracked), it is
// averaged over the held lookups by how many tracker nodes were up when
// each was issued, as for the paper's model; otherwise (the flat DHT) the
// model runs with the MTTF that gives the tracker nodes the availability
// the runs realized.
func repairPoint(pr *PointResult, d Design, p Params, pq float64, byUp map[int]int, membership time.Duration) error {
	rp, ok, err := repairParams(d, p, membership)
	if err != nil || !ok {
		return err
	}
	plan, err := model.EvaluateRepair(rp)
	if err != nil {
		return err
	}
	pr.HasRepair = true
	pr.Repair, pr.RepairRecord = plan.Reliability*pq, plan.Record
	real := rp
	if avail := mortalAvail(d, p, pr.TrackerAvail); p.MTTF > 0 && avail > 0 && avail < 1 {
		if real.MTTF, err = model.FitMTTF(rp.MTTR, rp.Window, avail); err != nil {
			real.MTTF = rp.MTTF
		}
	}
	pr.RepairMTTF = real.MTTF
	rr, err := model.EvaluateRepair(real)
	if err != nil {
		return err
	}
	pr.RepairRealized = rr.Reliability * pq
	if plan.ByUp != nil && len(byUp) > 0 {
		var sum float64
		var n int
		for c, k := range byUp {
			if c >= 0 && c < len(plan.ByUp) {
				sum += plan.ByUp[c] * float64(k)
				n += k
			}
		}
		if n > 0 {
			pr.RepairRealized, pr.RepairMTTF = sum/float64(n)*pq, 0
		}
	}
	pr.DeltaRepair = pr.Rate - pr.RepairRealized
	pr.PassRepair = pr.Held > 0 && pr.Lo <= pr.RepairRealized+RepairTolerance && pr.Hi >= pr.RepairRealized-RepairTolerance
	pr.RepairInScope, pr.RepairOutOfScope = RepairScope(d, p, pr.Rho)
	pr.RepairReasons = repairReasons(*pr, p)
	return nil
}

// mortalAvail converts a run's tracker availability (for the flat DHT:
// over every node, peers included) into the availability of the nodes
// that fail.
func mortalAvail(d Design, p Params, avail float64) float64 {
	if d == FlatDHT && p.Trackers > 0 {
		return (avail*float64(p.Nodes()) - float64(p.Peers)) / float64(p.Trackers)
	}
	return avail
}

// repairReasons explains, from the measured outcomes, an out-of-scope
// point and an in-scope point that misses the model with repair.
func repairReasons(pr PointResult, p Params) []string {
	if pr.Held == 0 || (pr.PassRepair && pr.RepairInScope) {
		return nil
	}
	var out []string
	fails := pr.Held - pr.HeldSucceeded
	lost := pr.Outcomes[metrics.OutcomeNoHolders] + pr.Outcomes[metrics.OutcomeDeadHolders]
	stalled := pr.Outcomes[metrics.OutcomeTimeout] + pr.Outcomes[metrics.OutcomeError] + pr.Outcomes[metrics.OutcomeLate]
	pct := func(n int) float64 { return 100 * float64(n) / float64(pr.Held) }
	predictedLost := 100 * (1 - pr.RepairRecord)
	if stalled > 0 && pr.Design == Overlay {
		out = append(out, fmt.Sprintf("%d of the %d failures (%.1f%% of held lookups) timed out or failed on the route: the model's route fails only when every supernode is down (failover at once), while these lookups waited for a leaf that had no usable supernode", stalled, fails, pct(stalled)))
	}
	if stalled > 0 && pr.Design == FlatDHT {
		out = append(out, fmt.Sprintf("%d of the %d failures (%.1f%% of held lookups) timed out or failed: queries that stalled on dead routing-table entries, which the model does not have", stalled, fails, pct(stalled)))
	}
	if lost > 0 {
		out = append(out, fmt.Sprintf("%d found no live holder (%.1f%% of held lookups; the model's record loss at the scenario's parameters: %.1f%%)", lost, pct(lost), predictedLost))
	}
	if pr.RunCI && pr.RunHi-pr.RunLo > 0.1 {
		out = append(out, fmt.Sprintf("the seeds disagree (per-run mean %.3f, 95%% t-interval [%.3f, %.3f]): the failures come from one run's schedule", pr.RunMean, pr.RunLo, pr.RunHi))
	}
	return out
}

// addReruns attaches the reruns of each point and, where the model with
// repair missed, says what the rerun measured.
func addReruns(points []PointResult, reruns []*RunResult) {
	for i := range points {
		pr := &points[i]
		var held, ok int
		outcomes := map[string]int{}
		for _, r := range reruns {
			if r.Key == pr.Key && r.Design == pr.Design {
				held += r.Held
				ok += r.HeldSucceeded
				for o, n := range r.HeldOutcomes {
					outcomes[o] += n
				}
			}
		}
		if held == 0 {
			continue
		}
		pr.RerunHeld, pr.RerunSucceeded = held, ok
		if !pr.HasRepair || (pr.PassRepair && pr.RepairInScope) {
			continue
		}
		lo, hi := Wilson(ok, held)
		verdict := "the gap is reproduced"
		if lo <= pr.RepairRealized+RepairTolerance && hi >= pr.RepairRealized-RepairTolerance {
			verdict = "within the model's ±0.01: the stored run's failures were not reproduced"
		}
		pr.RepairReasons = append(pr.RepairReasons, fmt.Sprintf("a rerun of the same seeds (same schedules) measured %d/%d = %.4f [%.4f, %.4f] (%s): %s",
			ok, held, ratio(ok, held), lo, hi, outcomeString(outcomes), verdict))
	}
}
