package protocol

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

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

// Candidacy is a leaf with a promotion pending, as a probe answer carries
// it.
type Candidacy struct {
	Peer  peer.AddrInfo
	Score float64
	// Age: how long ago the candidate itself said so (0: the answering
	// node itself); relays keep counting it.
	Age time.Duration
}

// parseCandidates parses a probe answer's candidacies: at most
// MaxCandidates, each a valid peer with a score in [0,1] and an age within
// MaxCandidateAgeMs.
func (l Limits) parseCandidates(cs []*pb.Candidate) ([]Candidacy, error) {
	if len(cs) > MaxCandidates {
		return nil, fmt.Errorf("%w: %d candidates (max %d)", ErrOverLimit, len(cs), MaxCandidates)
	}
	var out []Candidacy
	for i, c := range cs {
		ai, err := l.PeerFromPB(c.GetPeer())
		if err != nil {
			return nil, fmt.Errorf("candidate %d: %w", i, err)
		}
		if s := c.GetScore(); !(s >= 0 && s <= 1) { // also NaN
			return nil, fmt.Errorf("%w: candidate %d: score %v outside [0,1]", ErrMalformed, i, s)
		}
		if c.GetAgeMs() > MaxCandidateAgeMs {
			return nil, fmt.Errorf("%w: candidate %d: age %d ms (max %d)", ErrOverLimit, i, c.GetAgeMs(), MaxCandidateAgeMs)
		}
		out = append(out, Candidacy{Peer: ai, Score: c.GetScore(), Age: time.Duration(c.GetAgeMs()) * time.Millisecond})
	}
	return out, nil
}
