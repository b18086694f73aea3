package model

import "math"

// PoolBlock is the blocking probability of an M/M/c/K queue: Poisson
// arrivals at rate lambda, c servers of rate mu each, at most K ≥ c
// requests in the system. It is the loss of n capped servers that pass a
// request they cannot queue on to the others (a client failing over, as
// BEP 12 has it): under load their queues fill together, so the n servers
// lose like one pool of capacity n·μ (success ≤ nμ/λ), not independently
// as the paper's 1 − P_block(λ/(nμ), h)^n has it. With K = c·h it is the
// pool of n M/M/1/h servers.
func PoolBlock(lambda, mu float64, c, K int) float64 {
	if c < 1 || K < c || !(mu > 0) {
		return 1
	}
	if !(lambda > 0) {
		return 0
	}
	a := lambda / mu
	// Terms t_k = P_k/P_0: a^k/k! for k < c, a^k/(c!·c^(k−c)) for k ≥ c,
	// in logs, normalised by their maximum.
	logs := make([]float64, K+1)
	la := math.Log(a)
	lfact := 0.0
	for k := 0; k <= K; k++ {
		if k > 0 && k <= c {
			lfact += math.Log(float64(k))
		}
		if k <= c {
			logs[k] = float64(k)*la - lfact
		} else {
			logs[k] = logs[c] + float64(k-c)*(la-math.Log(float64(c)))
		}
	}
	m := logs[0]
	for _, l := range logs {
		m = math.Max(m, l)
	}
	var sum float64
	for _, l := range logs {
		sum += math.Exp(l - m)
	}
	return clamp01(math.Exp(logs[K]-m) / sum)
}
