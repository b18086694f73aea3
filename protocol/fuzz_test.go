package protocol_test

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Every decoder: arbitrary bytes give a value or an error, never a panic,
// and anything accepted respects the limits.

func FuzzDecodeRequest(f *testing.F) {
	for _, m := range []*pb.Request{
		{Id: 1, Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: true}}},
		{Id: 2, Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: mkCID(f, "x").Bytes(), Limit: 5}}},
		{Id: 3, Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: []byte("e")}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := lim.DecodeRequest(b)
		if err == nil {
			if lk := req.GetLookup(); lk != nil && lk.Limit > uint32(lim.MaxLookupResults) {
				t.Fatal("accepted a lookup over the limit")
			}
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	_, id := key(f)
	b, _ := proto.Marshal(&pb.Response{Id: 1, Body: &pb.Response_Lookup{Lookup: &pb.LookupResponse{
		Holders: []*pb.Peer{{Id: []byte(id), Addrs: [][]byte{[]byte{4, 127, 0, 0, 1}}}}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := lim.DecodeResponse(b)
		if err == nil && len(resp.GetLookup().GetHolders()) > lim.MaxLookupResults {
			t.Fatal("accepted too many holders")
		}
	})
}

func FuzzDecodeReplicate(f *testing.F) {
	b, _ := proto.Marshal(&pb.ReplicateRequest{Envelope: []byte("x")})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = lim.DecodeReplicateRequest(b)
		_, _ = lim.DecodeReplicateResponse(b)
	})
}

func FuzzOpenAnnouncement(f *testing.F) {
	k, id := key(f)
	env, err := lim.SignAnnouncement(announcement(f, id, 2), k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := lim.OpenAnnouncement(b, now)
		if err != nil {
			return
		}
		if len(a.CIDs) == 0 || len(a.CIDs) > lim.MaxCIDsPerAnnouncement || len(a.Addrs) > lim.MaxAddrsPerPeer {
			t.Fatalf("accepted an announcement outside the limits: %d CIDs", len(a.CIDs))
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		frame, err := lim.NewReader(bytes.NewReader(b)).ReadFrame()
		if err == nil && len(frame) > lim.MaxMessageSize {
			t.Fatal("frame over the limit")
		}
	})
}

var _ = protocol.DefaultLimits

func FuzzDecodeProbe(f *testing.F) {
	b, _ := proto.Marshal(&pb.ProbeRequest{Body: &pb.ProbeRequest_Bandwidth{Bandwidth: &pb.BandwidthProbe{MaxBytes: 1024, DurationMs: 100}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := lim.DecodeProbeRequest(b); err == nil {
			if bw := req.GetBandwidth(); bw != nil && bw.MaxBytes > protocol.MaxProbeBytes {
				t.Fatal("accepted an oversized probe")
			}
		}
		_, _ = lim.DecodeProbeResponse(b)
	})
}
