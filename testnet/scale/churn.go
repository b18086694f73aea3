package scale

import (
	"math"
	"math/rand/v2"
	"time"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/stat/distuv"
)

// The churn model: every peer's sessions are i.i.d. Weibull (the fits of
// Stutzbach & Rejaie). A run starts in the stationary regime of that
// renewal process: a peer online at time zero has been up for an age
// drawn from the equilibrium age distribution (density S(a)/E[L]) and
// stays for the residual life given that age; a peer that leaves is
// replaced by a newcomer whose whole session is a fresh draw, so the
// online population stays at N. Heavy tails (k < 1) mean most of the
// peers online at any moment are old and stable while newcomers turn over
// fast, which is why an uptime criterion selects good supernodes.

func (w Weibull) scale() float64 { return w.ScaleMin * float64(time.Minute) }

// Survival is P(L > t).
func (w Weibull) Survival(t time.Duration) float64 {
	if t <= 0 {
		return 1
	}
	return math.Exp(-math.Pow(float64(t)/w.scale(), w.Shape))
}

// Mean is E[L] = λ·Γ(1+1/k).
func (w Weibull) Mean() time.Duration {
	return time.Duration(w.scale() * math.Gamma(1+1/w.Shape))
}

// Median is λ·(ln 2)^(1/k).
func (w Weibull) Median() time.Duration {
	return time.Duration(w.scale() * math.Pow(math.Ln2, 1/w.Shape))
}

// Session draws a whole session length.
func (w Weibull) Session(r *rand.Rand) time.Duration {
	return w.residual(0, r.Float64())
}

// Age draws the age of a peer found online in the stationary regime. The
// equilibrium age density is S(a)/E[L]; with y = (a/λ)^k it becomes
// y^(1/k-1)·e^(-y) up to a constant, so y ~ Gamma(1/k, 1) and a = λ·y^(1/k).
func (w Weibull) Age(r *rand.Rand) time.Duration {
	g := distuv.Gamma{Alpha: 1 / w.Shape, Beta: 1, Src: r}
	return time.Duration(w.scale() * math.Pow(g.Rand(), 1/w.Shape))
}

// Residual draws the remaining session of a peer that has been up for age:
// P(L > age+x | L > age) = S(age+x)/S(age).
func (w Weibull) Residual(age time.Duration, r *rand.Rand) time.Duration {
	return w.residual(age, r.Float64())
}

// residual inverts the conditional survival at 1-u: ((age+x)/λ)^k =
// (age/λ)^k - ln(1-u).
func (w Weibull) residual(age time.Duration, u float64) time.Duration {
	l := w.scale()
	y := math.Pow(float64(max(age, 0))/l, w.Shape) - math.Log1p(-min(u, 1-1e-15))
	x := l*math.Pow(y, 1/w.Shape) - float64(max(age, 0))
	if x > float64(1000*24*time.Hour) {
		x = float64(1000 * 24 * time.Hour)
	}
	return time.Duration(max(x, 0))
}

// FractionOlder is the stationary fraction of online peers up for at least
// a: ∫_a^∞ S(x)dx / E[L] = Q(1/k, (a/λ)^k), the regularized upper
// incomplete gamma function.
func (w Weibull) FractionOlder(a time.Duration) float64 {
	if a <= 0 {
		return 1
	}
	return mathext.GammaIncRegComp(1/w.Shape, math.Pow(float64(a)/w.scale(), w.Shape))
}

// DepartureRate is the stationary rate at which n online peers leave
// (n/E[L], per second).
func (w Weibull) DepartureRate(n int) float64 { return float64(n) / w.Mean().Seconds() }
