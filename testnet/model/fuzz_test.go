package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"testing"
)

func inUnit(v float64) bool { return v >= 0 && v <= 1 } // false for NaN

// FuzzParams feeds arbitrary parameters to validation, both designs, the
// equations, planning and the CLI flag parser. Nothing may panic; every
// accepted input must give probabilities in [0,1]; every rejection must be
// ErrInvalidParam (library) or exit status 2 (CLI).
func FuzzParams(f *testing.F) {
	f.Add("dht", int64(2), int64(3), int64(0), int64(64), 24.0, 1.0, 500.0, 1000.0, int64(100), 0.0, 0.999)
	f.Add("server", int64(1), int64(1), int64(1), int64(1), 1.0, 0.0, 1.0, 1.0, int64(1), 1.0, 0.5)
	f.Add("dht", int64(0), int64(-1), int64(-1), int64(0), math.NaN(), -1.0, math.Inf(1), 0.0, int64(0), -1.0, math.NaN())
	f.Add("server", int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64), int64(math.MaxInt64),
		math.MaxFloat64, math.MaxFloat64, math.MaxFloat64, 5e-324, int64(math.MaxInt64), math.MaxFloat64, 1.0)
	f.Add("dht", int64(1), int64(1), int64(0), int64(1), 5e-324, math.MaxFloat64, 0.0, math.MaxFloat64, int64(1), 0.0, 1e-300)
	f.Add("x", int64(1), int64(1), int64(1), int64(3), 1.0, 1.0, 2.0, 1.0, int64(1), 0.0, 1.0)

	f.Fuzz(func(t *testing.T, design string, n, m, k, s int64, mttf, mttr, lambda, mu float64, h int64, msgs, target float64) {
		p := Params{Design: Design(design), N: int(n), M: int(m), K: int(k), Supernodes: int(s),
			MTTF: mttf, MTTR: mttr, Lambda: lambda, Mu: mu, H: int(h), LookupMsgs: msgs}
		for _, d := range []Design{Design(design), Server, DHT} {
			p.Design = d
			r, err := Evaluate(p)
			if err != nil {
				if !errors.Is(err, ErrInvalidParam) {
					t.Fatalf("Evaluate error not ErrInvalidParam: %v", err)
				}
				continue
			}
			if !inUnit(r.Reliability) || !inUnit(r.Unreliability) || !inUnit(r.NodeReliability) ||
				!inUnit(r.PUp) || !inUnit(r.PBlock) || !inUnit(r.PQueued) {
				t.Fatalf("probability outside [0,1]: %+v", r)
			}
			if math.IsNaN(r.Rho) || math.IsInf(r.Rho, 0) || r.Rho < 0 || math.IsNaN(r.NodeLambda) || math.IsInf(r.NodeLambda, 0) {
				t.Fatalf("bad load figures: %+v", r)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("result not encodable: %v", err)
			}
			// Planning with a small bound: never panics, result in [0,1].
			v := PlanN
			if d == DHT {
				v = PlanSupernodes
			}
			pr, err := Plan(p, target, v, 64)
			if err == nil || errors.Is(err, ErrUnreachable) {
				if !inUnit(pr.Result.Reliability) {
					t.Fatalf("plan reliability outside [0,1]: %+v", pr)
				}
			} else if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("Plan error: %v", err)
			}
		}
		for _, fn := range []func() (float64, error){
			func() (float64, error) { return PUp(mttf, mttr) },
			func() (float64, error) { return PBlock(lambda, int(h)) },
			func() (float64, error) { return ServerReliability(target, int(n)) },
			func() (float64, error) { return DHTReliability(target, int(m), int(k)) },
		} {
			v, err := fn()
			if err != nil && !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("unexpected error %v", err)
			}
			if err == nil && !inUnit(v) {
				t.Fatalf("equation result %v outside [0,1]", v)
			}
		}

		// The same values as CLI flags.
		ff := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
		args := []string{"--design", design, "--n", strconv.FormatInt(n, 10), "--m", strconv.FormatInt(m, 10),
			"--k", strconv.FormatInt(k, 10), "--supernodes", strconv.FormatInt(s, 10),
			"--mttf", ff(mttf), "--mttr", ff(mttr), "--lambda", ff(lambda), "--mu", ff(mu),
			"--h", strconv.FormatInt(h, 10), "--msgs", ff(msgs), "--json"}
		var out, errOut bytes.Buffer
		switch code := Main(args, &out, &errOut); code {
		case 0:
			var r Result
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("CLI JSON: %v: %q", err, out.String())
			}
			if !inUnit(r.Reliability) || !inUnit(r.NodeReliability) {
				t.Fatalf("CLI result outside [0,1]: %+v", r)
			}
		case 2:
			if errOut.Len() == 0 {
				t.Fatal("exit 2 without a message")
			}
		default:
			t.Fatalf("CLI exit %d: %s", code, errOut.String())
		}
	})
}
