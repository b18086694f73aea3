package protocol_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

func TestProbeResponseCandidates(t *testing.T) {
	_, id := key(t)
	cand := func(score float64, age uint32) *pb.Candidate {
		return &pb.Candidate{Peer: &pb.Peer{Id: []byte(id)}, Score: score, AgeMs: age}
	}
	decode := func(cs ...*pb.Candidate) error {
		b, err := proto.Marshal(&pb.ProbeResponse{Candidates: cs})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lim.DecodeProbeResponse(b)
		return err
	}
	if err := decode(cand(0.4, 0), cand(1, protocol.MaxCandidateAgeMs)); err != nil {
		t.Fatalf("good candidates refused: %v", err)
	}
	b, _ := proto.Marshal(&pb.ProbeResponse{Candidates: []*pb.Candidate{cand(0.4, 1500)}, Supernodes: []*pb.Peer{{Id: []byte(id)}}})
	resp, err := lim.DecodeProbeResponse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Candidacies) != 1 || resp.Candidacies[0].Peer.ID != id || resp.Candidacies[0].Score != 0.4 ||
		resp.Candidacies[0].Age != 1500*time.Millisecond || len(resp.KnownSupernodes) != 1 || resp.KnownSupernodes[0].ID != id {
		t.Fatalf("decoded to candidacies %+v, supernodes %+v", resp.Candidacies, resp.KnownSupernodes)
	}
	many := make([]*pb.Candidate, protocol.MaxCandidates+1)
	for i := range many {
		many[i] = cand(0.5, 0)
	}
	for name, tc := range map[string]struct {
		cs   []*pb.Candidate
		want error
	}{
		"too many":   {many, protocol.ErrOverLimit},
		"NaN score":  {[]*pb.Candidate{cand(math.NaN(), 0)}, protocol.ErrMalformed},
		"score > 1":  {[]*pb.Candidate{cand(1.01, 0)}, protocol.ErrMalformed},
		"too old":    {[]*pb.Candidate{cand(0.5, protocol.MaxCandidateAgeMs+1)}, protocol.ErrOverLimit},
		"no peer":    {[]*pb.Candidate{{Score: 0.5}}, protocol.ErrMalformed},
		"bad peerID": {[]*pb.Candidate{{Peer: &pb.Peer{Id: []byte("x")}, Score: 0.5}}, protocol.ErrMalformed},
	} {
		if err := decode(tc.cs...); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", name, err, tc.want)
		}
	}
}
