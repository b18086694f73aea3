package protocol_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

var lim = protocol.DefaultLimits

func key(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func mkCID(t testing.TB, s string) cid.Cid {
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func cids(t testing.TB, n int) []cid.Cid {
	var out []cid.Cid
	for i := 0; i < n; i++ {
		out = append(out, mkCID(t, strings.Repeat("x", i+1)))
	}
	return out
}

func announcement(id peer.ID) *protocol.Announcement {
	return &protocol.Announcement{Peer: id, Seq: 7, Expires: time.Now().Add(time.Hour),
		Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.2/tcp/4001")}}
}

func TestAnnouncementRoundTrip(t *testing.T) {
	k, id := key(t)
	a := announcement(id)
	cs := cids(t, 3)
	env, err := lim.SignAnnouncement(a, cs, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lim.OpenBatch(env, protocol.CIDsToBytes(cs), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.Peer != id || got.Seq != 7 || got.Count != 3 || len(got.CIDs) != 3 || !got.CIDs[2].Equals(cs[2]) ||
		!got.Addrs[0].Equal(a.Addrs[0]) || got.Expires.UnixMilli() != a.Expires.UnixMilli() {
		t.Fatalf("round trip changed the announcement: %+v", got)
	}
	if got.Hash != sha256.Sum256(env) {
		t.Fatal("hash is not the envelope's SHA-256")
	}
}

func TestOpenBatchRefusesOtherCIDs(t *testing.T) {
	k, id := key(t)
	cs := cids(t, 4)
	env, err := lim.SignAnnouncement(announcement(id), cs, k)
	if err != nil {
		t.Fatal(err)
	}
	swapped := []cid.Cid{cs[1], cs[0], cs[2], cs[3]}
	extra := append(cids(t, 4), mkCID(t, "extra"))
	other := append(cids(t, 3), mkCID(t, "other"))
	for name, bad := range map[string][]cid.Cid{"reordered": swapped, "one more": extra, "one replaced": other, "one fewer": cs[:3]} {
		if _, err := lim.OpenBatch(env, protocol.CIDsToBytes(bad), time.Now()); !errors.Is(err, protocol.ErrBadProof) {
			t.Errorf("%s: got %v, want ErrBadProof", name, err)
		}
	}
}

func TestOpenAnnouncementRefuses(t *testing.T) {
	k, id := key(t)
	other, _ := key(t)
	good, err := lim.SignAnnouncement(announcement(id), cids(t, 2), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lim.SignAnnouncement(announcement(id), cids(t, 1), other); !errors.Is(err, protocol.ErrSignerMismatch) {
		t.Fatalf("signing for another peer: got %v", err)
	}
	forged := forge(t, announcement(id), cids(t, 1), other)

	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0xff // last byte is in the signature

	expired := announcement(id)
	expired.Expires = time.Now().Add(-time.Second)
	expiredEnv, _ := lim.SignAnnouncement(expired, cids(t, 1), k)
	farFuture := announcement(id)
	farFuture.Expires = time.Now().Add(lim.MaxAnnouncementLifetime + time.Hour)
	farEnv, _ := lim.SignAnnouncement(farFuture, cids(t, 1), k)

	small := lim
	small.MaxCIDsPerAnnouncement = 2
	tooMany, _ := lim.SignAnnouncement(announcement(id), cids(t, 3), k)

	cases := []struct {
		name string
		l    protocol.Limits
		env  []byte
		want error
	}{
		{"bad signature", lim, flipped, protocol.ErrBadSignature},
		{"other signer", lim, forged, protocol.ErrSignerMismatch},
		{"expired", lim, expiredEnv, protocol.ErrExpired},
		{"too far ahead", lim, farEnv, protocol.ErrExpired},
		{"too many CIDs", small, tooMany, protocol.ErrOverLimit},
		{"garbage", lim, []byte("not an envelope"), protocol.ErrMalformed},
		{"oversized", lim, make([]byte, lim.MaxEnvelopeSize+1), protocol.ErrMessageTooLarge},
		{"empty", lim, nil, protocol.ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.l.OpenAnnouncement(tc.env, time.Now())
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// forge seals a record naming a.Peer with a key that is not a.Peer's,
// bypassing SignAnnouncement's check (what a malicious supernode would do).
func forge(t testing.TB, a *protocol.Announcement, cs []cid.Cid, k crypto.PrivKey) []byte {
	t.Helper()
	a.Root, a.Count = protocol.NewCIDTree(cs).Root(), len(cs)
	env, err := protocol.SealUncheckedForTest(a, k)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestDecodeRequestLimits(t *testing.T) {
	big := &pb.Request{Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: make([]byte, lim.MaxEnvelopeSize+1)}}}
	b, _ := proto.Marshal(big)
	if _, err := lim.DecodeRequest(b); !errors.Is(err, protocol.ErrMessageTooLarge) {
		t.Fatalf("oversized envelope: %v", err)
	}
	lk := &pb.Request{Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: mkCID(t, "a").Bytes(), Limit: uint32(lim.MaxLookupResults + 1)}}}
	b, _ = proto.Marshal(lk)
	if _, err := lim.DecodeRequest(b); !errors.Is(err, protocol.ErrOverLimit) {
		t.Fatalf("lookup over limit: %v", err)
	}
	bad := &pb.Request{Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: []byte{1, 2, 3}}}}
	b, _ = proto.Marshal(bad)
	if _, err := lim.DecodeRequest(b); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("bad CID: %v", err)
	}
	b, _ = proto.Marshal(&pb.Request{Id: 3})
	if _, err := lim.DecodeRequest(b); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("no body: %v", err)
	}
	if _, err := lim.DecodeRequest([]byte{0xff, 0xff, 0xff}); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestReadFrameRefusesOversizeBeforeReading(t *testing.T) {
	var buf bytes.Buffer
	buf.Write([]byte{0xff, 0xff, 0xff, 0x7f}) // varint length ≈ 268 MB, no body
	if _, err := lim.NewReader(&buf).ReadFrame(); !errors.Is(err, protocol.ErrMessageTooLarge) {
		t.Fatalf("got %v", err)
	}
	buf.Reset()
	if err := protocol.WriteMsg(&buf, &pb.Request{Id: 9, Body: &pb.Request_Heartbeat{Heartbeat: &pb.HeartbeatRequest{}}}); err != nil {
		t.Fatal(err)
	}
	frame, err := lim.NewReader(&buf).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	req, err := lim.DecodeRequest(frame)
	if err != nil || req.Id != 9 {
		t.Fatalf("round trip: %v %v", req, err)
	}
}

func TestStatusErrorMatchesSentinel(t *testing.T) {
	err := protocol.ResponseError(pb.Status_OVER_CAPACITY, "full")
	if !errors.Is(err, protocol.ErrOverCapacity) || errors.Is(err, protocol.ErrRefused) {
		t.Fatalf("%v does not map to its sentinel", err)
	}
	if protocol.StatusOf(protocol.ErrBadSignature) != pb.Status_REFUSED ||
		protocol.StatusOf(protocol.ErrOverLimit) != pb.Status_BAD_REQUEST {
		t.Fatal("StatusOf maps wrongly")
	}
}

func TestValidateLoad(t *testing.T) {
	good := &pb.Load{Leaves: 3, MaxLeaves: 8, Rho: 0.2, ArrivalRate: 4, ServiceRate: 20, Score: 0.7, Leaving: true}
	if err := protocol.ValidateLoad(good); err != nil {
		t.Fatalf("good load refused: %v", err)
	}
	if err := protocol.ValidateLoad(nil); err != nil {
		t.Fatalf("nil load refused: %v", err)
	}
	for name, l := range map[string]*pb.Load{
		"NaN rho":             {Rho: math.NaN()},
		"negative rate":       {ArrivalRate: -1},
		"infinite service":    {ServiceRate: math.Inf(1)},
		"score above 1":       {Score: 1.5},
		"NaN score":           {Score: math.NaN()},
		"leaves, no capacity": {Leaves: 2},
	} {
		if err := protocol.ValidateLoad(l); !errors.Is(err, protocol.ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	// In a heartbeat reply the decoder refuses it.
	b, err := proto.Marshal(&pb.Response{Body: &pb.Response_Heartbeat{Heartbeat: &pb.HeartbeatResponse{Load: &pb.Load{Score: 2}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := protocol.DefaultLimits.DecodeResponse(b); !errors.Is(err, protocol.ErrMalformed) {
		t.Errorf("heartbeat with score 2: err %v, want ErrMalformed", err)
	}
}
