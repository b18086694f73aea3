package protocol

import (
	"fmt"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Bounds of the candidacies in a probe answer (pb.ProbeResponse.candidates).
const (
	// MaxCandidates bounds the pending promotions one probe answer carries:
	// the responder's own and the highest-ranked ones it heard.
	MaxCandidates = 8
	// MaxCandidateAgeMs bounds a relayed candidacy's age; older ones are
	// stale for any election preset.
	MaxCandidateAgeMs = 10 * 60 * 1000
)

// validateCandidates checks a probe answer's candidacies: at most
// MaxCandidates, each a valid peer with a score in [0,1] and an age within
// MaxCandidateAgeMs.
func (l Limits) validateCandidates(cs []*pb.Candidate) error {
	if len(cs) > MaxCandidates {
		return fmt.Errorf("%w: %d candidates (max %d)", ErrOverLimit, len(cs), MaxCandidates)
	}
	for i, c := range cs {
		if _, err := l.PeerFromPB(c.GetPeer()); err != nil {
			return fmt.Errorf("candidate %d: %w", i, err)
		}
		if s := c.GetScore(); !(s >= 0 && s <= 1) { // also NaN
			return fmt.Errorf("%w: candidate %d: score %v outside [0,1]", ErrMalformed, i, s)
		}
		if c.GetAgeMs() > MaxCandidateAgeMs {
			return fmt.Errorf("%w: candidate %d: age %d ms (max %d)", ErrOverLimit, i, c.GetAgeMs(), MaxCandidateAgeMs)
		}
	}
	return nil
}
