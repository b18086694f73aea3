package protocol

import (
	"fmt"
	"math"

	"github.com/supertracker/supertracker/protocol/pb"
)

// ValidateLoad checks a supernode's load report: finite, non-negative rates
// and utilisation, leaves within capacity bounds, a score in [0,1]. A nil
// report is valid (a leaf answers a load probe with none).
func ValidateLoad(m *pb.Load) error {
	if m == nil {
		return nil
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rho", m.Rho}, {"arrival rate", m.ArrivalRate}, {"service rate", m.ServiceRate}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) || f.v < 0 {
			return fmt.Errorf("%w: load %s %v", ErrMalformed, f.name, f.v)
		}
	}
	if !(m.Score >= 0 && m.Score <= 1) {
		return fmt.Errorf("%w: load score %v outside [0,1]", ErrMalformed, m.Score)
	}
	if m.Leaves > 0 && m.MaxLeaves == 0 {
		return fmt.Errorf("%w: load of %d leaves with no capacity", ErrMalformed, m.Leaves)
	}
	return nil
}
