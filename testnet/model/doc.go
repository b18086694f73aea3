// Package model is the analytic reliability model of tracker designs from
// the tracker-design paper (§4–5, /work/shared/reference), used by the
// testnet to put predicted lookup success next to measured lookup success,
// and by operators to size a deployment.
//
// Reliability is the probability that a lookup succeeds:
//
//	server tracker, n replicas in parallel:   R_server = 1 - (1 - Rs)^n        (1)
//	DHT tracker, k hops in series, m each:    R_DHT    = (1 - (1 - Rp)^m)^k    (2)
//	node reliability:                          R = P_up · P_queued              (3)
//	  P_up     = MTTF / (MTTF + MTTR)
//	  P_queued = 1 - P_block,  P_block = (ρ^h - ρ^(h+1)) / (1 - ρ^(h+1))      (4)
//
// (the paper's third factor P_served, "stays up until served", is taken as
// 1, as the paper does). P_block is the blocking probability of an M/M/1/h
// queue; it is evaluated in log space, equals 1/(h+1) at ρ = 1 exactly,
// tends to 1 - 1/ρ for ρ > 1 and large h, and ρ/(1+ρ) for h = 1.
//
// Load. For the server design ρ = λ/(n·μ): lookups spread evenly over the n
// replicas (the paper's assumption). The paper leaves the DHT's per-node
// load out ("depends on the particular DHT algorithm"); this package
// assumes each lookup puts msgs requests on the supernodes (Params.LookupMsgs,
// default k: one request per hop, matching the 6–9 RPCs per lookup measured
// for kad-dht at 50–100 nodes) and that key-space balance spreads them
// evenly over the S supernodes, so each supernode sees λ_p = λ·msgs/S and
// ρ_p = λ_p/μ. Set LookupMsgs = k·m if clients query all replicas of a hop
// in parallel. The path length k defaults to max(1, ⌈log2 S⌉), the paper's
// upper bound ("log of population size"); give Params.K to override it.
// One set of MTTF, MTTR, μ and h describes every tracker node of a design.
//
// All functions are pure and never panic: invalid input (NaN, ±Inf,
// negative or zero where a positive value is needed, unknown names) yields
// a *ParamError wrapping ErrInvalidParam and naming the field.
//
// # Use from Go
//
//	p := model.DefaultParams() // DHT, 64 supernodes, m=3, MTTF 24, MTTR 1, λ 500, μ 1000, h 100
//	p.Supernodes = 128
//	res, err := model.Evaluate(p)
//	if err != nil {
//		return err // errors.Is(err, model.ErrInvalidParam)
//	}
//	fmt.Println(res.Reliability, res.NodeReliability, res.Rho, res.PathLength)
//
//	// Capacity planning: smallest number of server replicas giving 99.9 %.
//	p.Design = model.Server
//	plan, err := model.Plan(p, 0.999, model.PlanN, 0)
//	switch {
//	case errors.Is(err, model.ErrUnreachable):
//		fmt.Println("unreachable:", plan.Reason)
//	case err == nil:
//		fmt.Println("n =", plan.Value)
//	}
//
//	// Sweep the load for both designs (the paper's Fig. 2) and plot it.
//	pts, err := model.Sweep(p, model.SweepSpec{Param: model.SweepLambda, From: 100, To: 100000, Steps: 30, Log: true})
//	...
//	err = model.WriteCSV(csvFile, model.SweepLambda, pts)
//	err = model.WritePlot(pngFile, model.SweepLambda, pts, model.PlotOptions{LogX: true})
//
// The equations alone are available as PUp, PBlock, ServerReliability and
// DHTReliability. Main implements the `supertracker-lab model` command.
package model
