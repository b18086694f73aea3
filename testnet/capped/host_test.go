package capped

import (
	"bytes"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// The stream counts lookup frames only, also when a frame arrives in
// pieces, and stops tracking on an oversized length.
func TestTrackCountsLookups(t *testing.T) {
	h, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	c := cid.NewCidV1(cid.Raw, h)
	var wire bytes.Buffer
	for i, req := range []*pb.Request{
		{Id: 1, Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: c.Bytes()}}},
		{Id: 2, Body: &pb.Request_Heartbeat{Heartbeat: &pb.HeartbeatRequest{}}},
		{Id: 3, Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: c.Bytes(), Limit: 5}}},
	} {
		if err := protocol.WriteMsg(&wire, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	s := &cappedStream{limits: protocol.DefaultLimits}
	b := wire.Bytes()
	for i := 0; i < len(b); i += 3 { // in 3-byte pieces
		s.track(b[i:min(i+3, len(b))])
	}
	if s.pending != 2 || len(s.buf) != 0 || s.lost {
		t.Fatalf("pending %d, buffered %d, lost %v; want 2 lookups", s.pending, len(s.buf), s.lost)
	}
	s.track([]byte{0xff, 0xff, 0xff, 0xff, 0x0f}) // a 4 GiB length
	if !s.lost {
		t.Fatal("oversized frame not detected")
	}
}
