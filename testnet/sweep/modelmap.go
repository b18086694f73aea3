package sweep

import (
	"fmt"
	"math"

	"github.com/supertracker/supertracker/testnet/model"
)

// Calib holds what the sweep measured about a design that the model needs
// and the scenario does not give: the tracker nodes' service rate μ and,
// for the flat DHT, the DHT requests per lookup.
type Calib struct {
	Mu            float64 `json:"mu"`        // requests/s one tracker node serves
	MuSource      string  `json:"mu_source"` // "measured (N samples)" or "fallback: …"
	MuSamples     int     `json:"mu_samples"`
	RPCsPerLookup float64 `json:"rpcs_per_lookup,omitempty"` // flatdht: FindProvidersAsync requests sent
}

// Fallback service rates when a design reported no load samples, from
// DESIGN §5: opentracker ~10.8k announces/s on 2 cores; a kad-dht lookup
// costs ~3 ms of CPU for 6–9 RPCs, so a DHT node serves ≳ 2000 RPCs/s
// (the overlay's supernodes run the same library).
var fallbackMu = map[Design]float64{Overlay: 2000, Server: 10800, FlatDHT: 2000}

// calibrate pools the runs of one design.
func calibrate(d Design, runs []*RunResult) Calib {
	var req, rho float64
	var n, lookups, rpcs int
	for _, r := range runs {
		if r.Design != d || r.Error != "" {
			continue
		}
		if r.MuSamples > 0 && r.MuHat > 0 {
			// Σλ/Σρ over all samples: recover the sums from the means.
			req += r.ReqPerS * float64(r.MuSamples)
			rho += r.ReqPerS * float64(r.MuSamples) / r.MuHat
			n += r.MuSamples
		}
		lookups += r.Ops.Lookups
		rpcs += r.Ops.RPCs
	}
	c := Calib{MuSamples: n}
	if n > 0 && rho > 0 {
		c.Mu = req / rho
		c.MuSource = fmt.Sprintf("measured: Σλ/Σρ over %d samples of the tracker nodes", n)
	} else {
		c.Mu = fallbackMu[d]
		c.MuSource = "fallback (no load samples): DESIGN §5 reference figure"
	}
	if d == FlatDHT && lookups > 0 {
		c.RPCsPerLookup = float64(rpcs) / float64(lookups)
	}
	return c
}

// PUp is the tracker profile's steady-state availability MTTF/(MTTF+MTTR)
// (1 without churn).
func (p Params) PUp() float64 {
	if p.MTTF <= 0 {
		return 1
	}
	return p.MTTF.Seconds() / (p.MTTF.Seconds() + p.MTTR.Seconds())
}

// ModelParams maps a sweep point to the model's parameters for design d
// (see docs/results.md, "Mapping"). avail > 0 replaces the availability
// derived from the profiles with a measured one (the tracker nodes'
// up-time fraction).
//
//   - overlay: DHT design, Supernodes = S (the tracker profile's count),
//     M = m, K = ⌈log2 S⌉ (the paper's bound), λ = lookup rate, one
//     request per hop, μ measured, P_up = MTTF/(MTTF+MTTR) of the profile;
//   - server: server design, N = n = m, Lambda = n·(λ + λ_announce)
//     because every client sends every request to all n trackers, so
//     each tracker sees λ + λ_announce (the model divides Lambda by N);
//     P_up of the profile (server j lives and dies with tracker node j);
//   - flatdht: DHT design over all N = S + peers nodes, M = min(m, N),
//     K = ⌈log2 N⌉, requests per lookup measured (FindProvidersAsync
//     RPCs), P_up = the node-averaged availability (S·P_up + peers·1)/N,
//     since the model has one P_up for all nodes.
//
// H (the M/M/1/h capacity) is ⌊μ·T⌋ for the lookup timeout T: a request
// that would wait longer than T is as good as dropped.
func ModelParams(d Design, p Params, c Calib, avail float64) model.Params {
	pup := p.PUp()
	mp := model.Params{Lambda: p.LookupRate, Mu: c.Mu}
	mp.H = int(math.Max(1, math.Min(1e6, math.Floor(c.Mu*p.LookupTimeout.Seconds()))))
	switch d {
	case Overlay:
		mp.Design, mp.Supernodes, mp.M = model.DHT, p.Trackers, p.Replication
	case Server:
		mp.Design, mp.N = model.Server, p.Replication
		mp.Lambda = float64(p.Replication) * (p.LookupRate + p.AnnounceRate)
	case FlatDHT:
		n := p.Nodes()
		mp.Design, mp.Supernodes, mp.M = model.DHT, n, min(p.Replication, n)
		mp.LookupMsgs = c.RPCsPerLookup
		pup = (float64(p.Trackers)*pup + float64(p.Peers)) / float64(n)
	}
	if avail > 0 {
		pup = avail
	}
	// Express P_up as MTTF = 1, MTTR = (1-P)/P (the model only uses the
	// ratio); P = 1 gives MTTR = 0.
	mp.MTTF, mp.MTTR = 1, 0
	if pup < 1 {
		mp.MTTR = (1 - math.Max(pup, 1e-9)) / math.Max(pup, 1e-9)
	}
	return mp
}

// Predict evaluates the model for design d at p.
func Predict(d Design, p Params, c Calib, avail float64) (model.Result, error) {
	return model.Evaluate(ModelParams(d, p, c, avail))
}
