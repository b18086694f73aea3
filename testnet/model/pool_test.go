package model

import (
	"math"
	"testing"
)

// One server: M/M/1/K, the paper's P_block. c = K: Erlang B. Overload:
// loss tends to 1 − cμ/λ.
func TestPoolBlock(t *testing.T) {
	for _, rho := range []float64{0.3, 0.9, 1, 1.125, 2} {
		if got, want := PoolBlock(rho*16, 16, 1, 24), pBlock(rho, 24); math.Abs(got-want) > 1e-12 {
			t.Errorf("ρ %.3f: M/M/1/24 %.12f, pBlock %.12f", rho, got, want)
		}
	}
	// Erlang B, a = 2, c = 2: (a²/2)/(1 + a + a²/2) = 2/5.
	if got := PoolBlock(2, 1, 2, 2); math.Abs(got-0.4) > 1e-12 {
		t.Errorf("Erlang B(2, 2) = %v, want 0.4", got)
	}
	// 2 servers of 16/s, h = 24 each, λ = 48/s (ρ = 1.5): loss ≈ 1 − 32/48.
	if got := PoolBlock(48, 16, 2, 48); math.Abs(got-1.0/3) > 0.01 {
		t.Errorf("overloaded pool loses %v, want ≈ 1/3", got)
	}
	if PoolBlock(0, 16, 2, 48) != 0 || PoolBlock(1, 16, 0, 48) != 1 {
		t.Error("edge cases")
	}
}
