package model

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// Design selects which tracker design a Params value describes.
type Design string

const (
	// Server is the manually deployed, replicated server tracker
	// (the paper's DS+M+U): n parallel replicas, eq. (1).
	Server Design = "server"
	// DHT is the supernode DHT tracker (the paper's P+DHT+A): a lookup
	// crosses k hops in series, each hop served by any of m replicas, eq. (2).
	DHT Design = "dht"
)

// Sentinel errors. Validation failures are *ParamError values that unwrap
// to ErrInvalidParam; planning failures unwrap to ErrUnreachable.
var (
	// ErrInvalidParam reports a parameter outside its domain (NaN, ±Inf,
	// negative, zero where a positive value is needed, unknown name, ...).
	ErrInvalidParam = errors.New("invalid model parameter")
	// ErrUnreachable reports that no value of the planned variable up to
	// the search bound reaches the target success probability.
	ErrUnreachable = errors.New("target reliability unreachable")
)

// ParamError describes one invalid parameter. It unwraps to
// ErrInvalidParam, so errors.Is(err, ErrInvalidParam) holds.
type ParamError struct {
	Field  string // Go field name, e.g. "MTTF", "Supernodes", "Target"
	Value  string // the offending value, formatted
	Reason string // what the value must satisfy
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("%v: %s = %s: %s", ErrInvalidParam, e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalidParam.
func (e *ParamError) Unwrap() error { return ErrInvalidParam }

func paramErr(field string, value any, reason string) error {
	var v string
	switch x := value.(type) {
	case float64:
		v = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		v = fmt.Sprint(x)
	}
	return &ParamError{Field: field, Value: v, Reason: reason}
}

// Params are the inputs of the model. Times (MTTF, MTTR) may use any unit
// as long as both use the same one; rates (Lambda, Mu) likewise.
//
// Fields used by both designs: MTTF, MTTR, Lambda, Mu, H.
// Server only: N. DHT only: M, K, Supernodes, LookupMsgs. Validate checks
// the fields the design uses, plus LookupMsgs always (every float field
// must be finite).
type Params struct {
	Design Design `json:"design"`

	// N is the number of server replicas tracking one object (eq. 1), ≥ 1.
	N int `json:"n"`

	// M is the number of replicas (the node plus its backups) serving each
	// DHT hop (eq. 2), 1 ≤ M ≤ Supernodes.
	M int `json:"m"`
	// K is the DHT path length in hops (eq. 2), 0 ≤ K ≤ Supernodes.
	// 0 selects PathLength(Supernodes) = max(1, ⌈log2 Supernodes⌉), the
	// paper's upper bound ("log of population size").
	K int `json:"k"`
	// Supernodes is the number of supernodes forming the DHT, ≥ 1.
	Supernodes int `json:"supernodes"`
	// LookupMsgs is the number of DHT requests one lookup puts on the
	// supernodes; 0 selects the effective K (one request per hop). Set it
	// to K·M if a client queries every replica of a hop in parallel, or to
	// a measured RPC count. Must be finite and ≥ 0.
	LookupMsgs float64 `json:"lookup_msgs"`

	// MTTF is the mean time to failure of one tracker node, > 0.
	MTTF float64 `json:"mttf"`
	// MTTR is the mean time to repair of one tracker node, ≥ 0.
	MTTR float64 `json:"mttr"`
	// Lambda is the lookup arrival rate offered to the whole tracker, ≥ 0.
	Lambda float64 `json:"lambda"`
	// Mu is the service rate of one tracker node (requests per time unit
	// of Lambda), > 0.
	Mu float64 `json:"mu"`
	// H is the M/M/1/h capacity of a node: the number of requests it holds
	// at once (in service plus waiting); an arrival finding H is dropped. ≥ 1.
	H int `json:"h"`
}

// DefaultParams returns the defaults used by the CLI: a 64-supernode DHT
// with 3 replicas per hop, or 2 server replicas; nodes fail once a day
// (MTTF 24 h) and take an hour to repair (MTTR 1 h, so P_up = 0.96); 500
// lookups/s offered, 1000 requests/s served per node, 100 requests queued.
func DefaultParams() Params {
	return Params{
		Design:     DHT,
		N:          2,
		M:          3,
		K:          0,
		Supernodes: 64,
		LookupMsgs: 0,
		MTTF:       24,
		MTTR:       1,
		Lambda:     500,
		Mu:         1000,
		H:          100,
	}
}

// Result is the evaluation of the model for one Params value.
type Result struct {
	// Inputs are the parameters as given (K and LookupMsgs may be 0 = auto).
	Inputs Params `json:"inputs"`
	Design Design `json:"design"`
	// PathLength is the effective k of the DHT design (0 for server).
	PathLength int `json:"path_length,omitempty"`
	// MsgsPerLookup is the effective LookupMsgs of the DHT design.
	MsgsPerLookup float64 `json:"msgs_per_lookup,omitempty"`
	// NodeLambda is the arrival rate at one tracker node:
	// Lambda/N (server) or Lambda·MsgsPerLookup/Supernodes (DHT).
	NodeLambda float64 `json:"node_lambda"`
	// Rho is the utilisation of one node, NodeLambda/Mu.
	Rho float64 `json:"rho"`
	// PUp is MTTF/(MTTF+MTTR).
	PUp float64 `json:"p_up"`
	// PBlock is the M/M/1/h blocking probability at Rho.
	PBlock float64 `json:"p_block"`
	// PQueued is 1 - PBlock.
	PQueued float64 `json:"p_queued"`
	// NodeReliability is PUp·PQueued (Rs or Rp, eq. 3–4).
	NodeReliability float64 `json:"node_reliability"`
	// Reliability is R_server (eq. 1) or R_DHT (eq. 2): the probability
	// that a lookup succeeds.
	Reliability float64 `json:"reliability"`
	// Unreliability is 1 - Reliability, computed without cancellation so
	// that failure probabilities far below 1e-16 stay accurate.
	Unreliability float64 `json:"unreliability"`
}

// PathLength returns the default DHT path length for a supernode count:
// max(1, ⌈log2 supernodes⌉). It returns 0 for supernodes < 1.
func PathLength(supernodes int) int {
	if supernodes < 1 {
		return 0
	}
	return max(1, bits.Len(uint(supernodes-1)))
}

// Validate checks the fields that p.Design uses (see Params) and returns a
// *ParamError (wrapping ErrInvalidParam) for the first invalid one.
func (p Params) Validate() error {
	switch p.Design {
	case Server, DHT:
	default:
		return paramErr("Design", fmt.Sprintf("%q", string(p.Design)), `must be "server" or "dht"`)
	}
	if err := checkPositive("MTTF", p.MTTF); err != nil {
		return err
	}
	if err := checkNonNegative("MTTR", p.MTTR); err != nil {
		return err
	}
	if err := checkNonNegative("Lambda", p.Lambda); err != nil {
		return err
	}
	if err := checkPositive("Mu", p.Mu); err != nil {
		return err
	}
	if p.H < 1 {
		return paramErr("H", p.H, "must be ≥ 1")
	}
	// Only the DHT uses LookupMsgs, but every float is checked so that
	// Result.Inputs is always finite (encodable as JSON).
	if err := checkNonNegative("LookupMsgs", p.LookupMsgs); err != nil {
		return err
	}
	if p.Design == Server {
		if p.N < 1 {
			return paramErr("N", p.N, "must be ≥ 1")
		}
		return nil
	}
	if p.Supernodes < 1 {
		return paramErr("Supernodes", p.Supernodes, "must be ≥ 1")
	}
	if p.M < 1 {
		return paramErr("M", p.M, "must be ≥ 1")
	}
	if p.M > p.Supernodes {
		return paramErr("M", p.M, fmt.Sprintf("must be ≤ Supernodes (%d): a hop cannot have more replicas than there are supernodes", p.Supernodes))
	}
	if p.K < 0 {
		return paramErr("K", p.K, "must be ≥ 0 (0 = ⌈log2 Supernodes⌉)")
	}
	if p.K > p.Supernodes {
		return paramErr("K", p.K, fmt.Sprintf("must be ≤ Supernodes (%d)", p.Supernodes))
	}
	return nil
}

func checkPositive(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return paramErr(field, v, "must be finite and > 0")
	}
	return nil
}

func checkNonNegative(field string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return paramErr(field, v, "must be finite and ≥ 0")
	}
	return nil
}

// PUp returns the steady-state availability MTTF/(MTTF+MTTR).
func PUp(mttf, mttr float64) (float64, error) {
	if err := checkPositive("MTTF", mttf); err != nil {
		return 0, err
	}
	if err := checkNonNegative("MTTR", mttr); err != nil {
		return 0, err
	}
	up, _ := availability(mttf, mttr)
	return up, nil
}

// availability returns (P_up, 1-P_up) without overflow (MTTF+MTTR can
// overflow for huge inputs) and without cancellation in 1-P_up.
func availability(mttf, mttr float64) (up, down float64) {
	if sum := mttf + mttr; !math.IsInf(sum, 0) {
		return clamp01(mttf / sum), clamp01(mttr / sum)
	}
	s := max(mttf, mttr) // > 0; scale so that the sum is in [1,2]
	a, b := mttf/s, mttr/s
	return clamp01(a / (a + b)), clamp01(b / (a + b))
}

// PBlock returns the blocking probability of an M/M/1/h queue with
// utilisation rho: (ρ^h - ρ^(h+1)) / (1 - ρ^(h+1)) = ρ^h(1-ρ)/(1-ρ^(h+1)).
// At ρ = 1 it returns the limit 1/(h+1); for ρ > 1 it tends to 1 - 1/ρ as h
// grows. rho must be finite and ≥ 0, h ≥ 1.
func PBlock(rho float64, h int) (float64, error) {
	if err := checkNonNegative("Rho", rho); err != nil {
		return 0, err
	}
	if h < 1 {
		return 0, paramErr("H", h, "must be ≥ 1")
	}
	return pBlock(rho, h), nil
}

// pBlock evaluates the M/M/1/h blocking probability in log space so that it
// neither overflows for large h nor cancels for ρ near 1. It accepts ρ=+Inf
// (which finite inputs can produce, e.g. λ/(n·μ) with a subnormal μ).
func pBlock(rho float64, h int) float64 {
	switch {
	case rho <= 0 || math.IsNaN(rho):
		return 0
	case rho == 1:
		return 1 / (float64(h) + 1)
	case math.IsInf(rho, 1):
		return 1
	}
	l := math.Log(rho)
	hf := float64(h)
	var p float64
	if rho < 1 {
		// ρ^h · (1-ρ)/(1-ρ^(h+1)) = e^{hL} · expm1(L)/expm1((h+1)L), L<0:
		// both expm1 terms are in (-1,0) and never zero.
		p = math.Exp(hf*l) * (math.Expm1(l) / math.Expm1((hf+1)*l))
	} else {
		// Divide numerator and denominator by ρ^(h+1):
		// (1-1/ρ)/(1-ρ^-(h+1)) = expm1(-L)/expm1(-(h+1)L), L>0.
		p = math.Expm1(-l) / math.Expm1(-(hf+1)*l)
	}
	return clamp01(p)
}

// ServerReliability is eq. (1): 1 - (1-rs)^n for node reliability rs in
// [0,1] and n ≥ 1 replicas.
func ServerReliability(rs float64, n int) (float64, error) {
	if err := checkProb("Rs", rs); err != nil {
		return 0, err
	}
	if n < 1 {
		return 0, paramErr("N", n, "must be ≥ 1")
	}
	r, _ := serverRel(logFail(rs, 1-rs), n)
	return r, nil
}

// DHTReliability is eq. (2): (1 - (1-rp)^m)^k for node reliability rp in
// [0,1], m ≥ 1 replicas per hop and k ≥ 1 hops.
func DHTReliability(rp float64, m, k int) (float64, error) {
	if err := checkProb("Rp", rp); err != nil {
		return 0, err
	}
	if m < 1 {
		return 0, paramErr("M", m, "must be ≥ 1")
	}
	if k < 1 {
		return 0, paramErr("K", k, "must be ≥ 1")
	}
	r, _ := dhtRel(logFail(rp, 1-rp), m, k)
	return r, nil
}

func checkProb(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 1 {
		return paramErr(field, v, "must be a probability in [0,1]")
	}
	return nil
}

// logFail returns ln(q) for a node failure probability q = 1-r, choosing the
// accurate form: log1p(-r) when r is small, log(q) when q is small.
func logFail(r, q float64) float64 {
	if r < 0.5 {
		return math.Log1p(-r)
	}
	return math.Log(q)
}

// serverRel returns (1-q^n, q^n) from lq = ln q.
func serverRel(lq float64, n int) (rel, unrel float64) {
	x := float64(n) * lq // ≤ 0, may be -Inf
	return clamp01(-math.Expm1(x)), clamp01(math.Exp(x))
}

// dhtRel returns ((1-q^m)^k, 1-(1-q^m)^k) from lq = ln q.
func dhtRel(lq float64, m, k int) (rel, unrel float64) {
	x := float64(m) * lq
	hopFail := math.Exp(x)        // q^m
	hopOK := -math.Expm1(x)       // 1 - q^m
	ls := logFail(hopFail, hopOK) // ln(1 - q^m) = ln(hopOK)
	y := float64(k) * ls
	return clamp01(math.Exp(y)), clamp01(-math.Expm1(y))
}

func saturate(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return math.Min(v, math.MaxFloat64)
}

func clamp01(v float64) float64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// Evaluate validates p and computes the model for p.Design.
//
// Server: ρ = Lambda/(N·Mu), Rs = P_up·(1-P_block(ρ,H)), R = 1-(1-Rs)^N.
//
// DHT: k = K (or PathLength(Supernodes) if K = 0); msgs = LookupMsgs (or k
// if 0); each supernode receives λ_p = Lambda·msgs/Supernodes requests (the
// lookups' requests spread evenly over all supernodes); ρ = λ_p/Mu,
// Rp = P_up·(1-P_block(ρ,H)), R = (1-(1-Rp)^M)^k.
func Evaluate(p Params) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	res := Result{Inputs: p, Design: p.Design}
	var k int
	switch p.Design {
	case Server:
		res.NodeLambda = p.Lambda / float64(p.N)
	case DHT:
		k = p.K
		if k == 0 {
			k = PathLength(p.Supernodes)
		}
		msgs := p.LookupMsgs
		if msgs == 0 {
			msgs = float64(k)
		}
		res.PathLength = k
		res.MsgsPerLookup = msgs
		res.NodeLambda = p.Lambda / float64(p.Supernodes) * msgs
	}
	res.Rho = res.NodeLambda / p.Mu
	// Finite inputs can still overflow (huge λ, subnormal μ). The blocking
	// probability is computed from the exact +Inf (P_block = 1); the
	// reported rates saturate at MaxFloat64 so that Result stays encodable
	// as JSON.
	pb := pBlock(res.Rho, p.H)
	res.NodeLambda = saturate(res.NodeLambda)
	res.Rho = saturate(res.Rho)
	up, down := availability(p.MTTF, p.MTTR)
	res.PUp = up
	res.PBlock = pb
	res.PQueued = 1 - pb
	res.NodeReliability = clamp01(up * (1 - pb))
	// Node failure probability 1-R = (1-P_up) + P_up·P_block, free of
	// cancellation when R is close to 1.
	q := clamp01(down + up*pb)
	lq := logFail(res.NodeReliability, q)
	if p.Design == Server {
		res.Reliability, res.Unreliability = serverRel(lq, p.N)
	} else {
		res.Reliability, res.Unreliability = dhtRel(lq, p.M, k)
	}
	return res, nil
}
