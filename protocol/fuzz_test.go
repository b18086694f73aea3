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
			if lk := req.GetLookup(); lk != nil && !bytes.Equal(req.CID.Bytes(), lk.Cid) {
				t.Fatal("a lookup's typed CID is not the CID it carries")
			}
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	k, id := key(f)
	cs := cids(f, 3)
	env, _ := lim.SignAnnouncement(announcement(id), cs, k)
	p, _ := protocol.NewCIDTree(cs).Proof(1)
	b, _ := proto.Marshal(&pb.Response{Id: 1, Body: &pb.Response_Lookup{Lookup: &pb.LookupResponse{
		Holders: []*pb.Holder{protocol.HolderToPB(env, cs[1], 1, p)}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		resp, err := lim.DecodeResponse(b)
		if err == nil && len(resp.GetLookup().GetHolders()) > lim.MaxLookupResults {
			t.Fatal("accepted too many holders")
		}
	})
}

func FuzzDecodePeer(f *testing.F) {
	k, id := key(f)
	cs := cids(f, 3)
	env, _ := lim.SignAnnouncement(announcement(id), cs, k)
	p, _ := protocol.NewCIDTree(cs).Proof(2)
	for _, m := range []proto.Message{
		&pb.PeerRequest{Id: 1, Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: env,
			Entries: []*pb.StoreEntry{{Cid: cs[2].Bytes(), Index: 2, Proof: p}}}}},
		&pb.PeerRequest{Id: 2, Body: &pb.PeerRequest_Gossip{Gossip: &pb.GossipRequest{Digest: []*pb.MemberDigest{{PeerId: []byte(id), Seq: 4}}}}},
		&pb.PeerResponse{Id: 3, Body: &pb.PeerResponse_Fetch{Fetch: &pb.FetchResponse{Holders: []*pb.Holder{protocol.HolderToPB(env, cs[2], 2, p)}}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if req, err := lim.DecodePeerRequest(b); err == nil {
			if len(req.GetStore().GetEntries()) > lim.MaxCIDsPerAnnouncement {
				t.Fatal("accepted a store over the limit")
			}
		}
		if resp, err := lim.DecodePeerResponse(b); err == nil && len(resp.GetFetch().GetHolders()) > lim.MaxLookupResults {
			t.Fatal("accepted a fetch answer over the limit")
		}
	})
}

func FuzzOpenAnnouncement(f *testing.F) {
	k, id := key(f)
	cs := cids(f, 2)
	env, err := lim.SignAnnouncement(announcement(id), cs, k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env, protocol.CIDsToBytes(cs)[0])
	now := time.Now()
	f.Fuzz(func(t *testing.T, b, c []byte) {
		a, err := lim.OpenAnnouncement(b, now)
		if err != nil {
			return
		}
		if a.Count == 0 || a.Count > lim.MaxCIDsPerAnnouncement || len(a.Addrs) > lim.MaxAddrsPerPeer {
			t.Fatalf("accepted an announcement outside the limits: %d CIDs", a.Count)
		}
		_, _ = lim.BindCIDs(a, [][]byte{c})
	})
}

func FuzzOpenReceiptAndCert(f *testing.F) {
	k, id := key(f)
	r, _ := lim.SignReceipt(&protocol.Receipt{Replica: id, Indices: []uint32{1}}, k)
	f.Add(r)
	f.Fuzz(func(t *testing.T, b []byte) {
		if rc, err := lim.OpenReceipt(b); err == nil && len(rc.Indices) > lim.MaxCIDsPerAnnouncement {
			t.Fatal("accepted an oversized receipt")
		}
		_, _ = lim.OpenCert(b, time.Now())
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
