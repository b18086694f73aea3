package protocol_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

func TestCIDTreeProofsVerifyAndOnlyForTheirCID(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 13, 64, 255, 256} {
		cs := cids(t, n)
		tree := protocol.NewCIDTree(cs)
		for i := range cs {
			p, err := tree.Proof(i)
			if err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if len(p) > lim.MaxProofLen() {
				t.Fatalf("n=%d i=%d: proof of %d hashes, limit %d", n, i, len(p), lim.MaxProofLen())
			}
			if err := protocol.VerifyCIDProof(tree.Root(), n, i, cs[i], p); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			// The same proof proves nothing about another CID or position.
			if err := protocol.VerifyCIDProof(tree.Root(), n, i, mkCID(t, "intruder"), p); !errors.Is(err, protocol.ErrBadProof) {
				t.Fatalf("n=%d i=%d: an intruder verified: %v", n, i, err)
			}
			if n > 1 {
				if err := protocol.VerifyCIDProof(tree.Root(), n, (i+1)%n, cs[i], p); err == nil {
					t.Fatalf("n=%d i=%d: verified at the wrong index", n, i)
				}
			}
		}
	}
	if _, err := protocol.NewCIDTree(cids(t, 3)).Proof(3); err == nil {
		t.Fatal("proof past the end")
	}
}

func TestReceiptsCountDistinctReplicasPerCID(t *testing.T) {
	k1, r1 := key(t)
	k2, r2 := key(t)
	_, r3 := key(t)
	h := [32]byte{1}
	env1, err := lim.SignReceipt(&protocol.Receipt{Replica: r1, Announcement: h, Indices: []uint32{0, 2, 2}, At: time.Now()}, k1)
	if err != nil {
		t.Fatal(err)
	}
	env2, err := lim.SignReceipt(&protocol.Receipt{Replica: r2, Announcement: h, Indices: []uint32{2, 9}, At: time.Now()}, k2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lim.SignReceipt(&protocol.Receipt{Replica: r3, Announcement: h}, k1); !errors.Is(err, protocol.ErrSignerMismatch) {
		t.Fatalf("signing a receipt for another replica: %v", err)
	}
	var rs []*protocol.Receipt
	for _, env := range [][]byte{env1, env2, env1} { // env1 twice: counted once
		r, err := lim.OpenReceipt(env)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	other := *rs[1]
	other.Announcement = [32]byte{2} // another announcement: ignored
	rs = append(rs, &other)
	got := protocol.ReplicasPerCID(h, 3, rs)
	if want := []int{1, 0, 2}; !equalInts(got, want) {
		t.Fatalf("replicas per CID = %v, want %v", got, want)
	}
	bad := bytes.Clone(env1)
	bad[len(bad)-1] ^= 1
	if _, err := lim.OpenReceipt(bad); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("tampered receipt: %v", err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSupernodeCertRoundTripAndExpiry(t *testing.T) {
	k, id := key(t)
	now := time.Now()
	c := &protocol.SupernodeCert{Peer: id, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.9/tcp/4001")},
		Seq: 3, Issued: now, Expires: now.Add(time.Minute), Leaving: true}
	env, err := lim.SignCert(c, k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lim.OpenCert(env, now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Peer != id || got.Seq != 3 || !got.Leaving || !got.Addrs[0].Equal(c.Addrs[0]) {
		t.Fatalf("round trip changed the cert: %+v", got)
	}
	if _, err := lim.OpenCert(env, now.Add(2*time.Minute)); !errors.Is(err, protocol.ErrExpired) {
		t.Fatalf("expired cert: %v", err)
	}
	// An announcement envelope is not a cert, though both verify.
	ann, _ := lim.SignAnnouncement(announcement(id), cids(t, 1), k)
	if _, err := lim.OpenCert(ann, now); !errors.Is(err, protocol.ErrMalformed) {
		t.Fatalf("announcement opened as a cert: %v", err)
	}
}

func TestOpenHolderRejectsWhatWasNotSigned(t *testing.T) {
	k, id := key(t)
	cs := cids(t, 5)
	env, err := lim.SignAnnouncement(announcement(id), cs, k)
	if err != nil {
		t.Fatal(err)
	}
	tree := protocol.NewCIDTree(cs)
	p, _ := tree.Proof(3)
	now := time.Now()
	h, err := lim.OpenHolder(protocol.HolderToPB(env, cs[3], 3, p), cs[3].Hash(), now)
	if err != nil {
		t.Fatal(err)
	}
	if h.ID != id || !h.CID.Equals(cs[3]) || len(h.Addrs) != 1 {
		t.Fatalf("holder = %+v", h)
	}
	never := mkCID(t, "never announced")
	wd := announcement(id)
	wd.Withdraw = true
	wdEnv, _ := lim.SignAnnouncement(wd, cs, k)
	cases := map[string]struct {
		h   *pb.Holder
		key []byte
	}{
		"invented CID":             {protocol.HolderToPB(env, never, 3, p), never.Hash()},
		"answer for another key":   {protocol.HolderToPB(env, cs[3], 3, p), cs[2].Hash()},
		"proof at the wrong index": {protocol.HolderToPB(env, cs[3], 2, p), cs[3].Hash()},
		"withdrawal":               {protocol.HolderToPB(wdEnv, cs[3], 3, p), cs[3].Hash()},
	}
	for name, tc := range cases {
		if _, err := lim.OpenHolder(tc.h, tc.key, now); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := lim.OpenHolder(protocol.HolderToPB(env, cs[3], 3, p), cs[3].Hash(), now.Add(2*time.Hour)); !errors.Is(err, protocol.ErrExpired) {
		t.Errorf("expired holder: %v", err)
	}
}

func TestDecodePeerRequestBounds(t *testing.T) {
	enc := func(m *pb.PeerRequest) []byte { b, _ := proto.Marshal(m); return b }
	proofHash := make([]byte, 32)
	many := make([]*pb.StoreEntry, lim.MaxCIDsPerAnnouncement+1)
	for i := range many {
		many[i] = &pb.StoreEntry{Cid: mkCID(t, "c").Bytes()}
	}
	longProof := make([][]byte, lim.MaxProofLen()+1)
	for i := range longProof {
		longProof[i] = proofHash
	}
	cases := map[string]*pb.PeerRequest{
		"no body":        {Id: 1},
		"hello no cert":  {Body: &pb.PeerRequest_Hello{Hello: &pb.HelloRequest{}}},
		"store no entry": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a")}}},
		"store too many": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a"), Entries: many}}},
		"proof too long": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a"),
			Entries: []*pb.StoreEntry{{Cid: mkCID(t, "c").Bytes(), Proof: longProof}}}}},
		"short hash": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a"),
			Entries: []*pb.StoreEntry{{Cid: mkCID(t, "c").Bytes(), Proof: [][]byte{{1}}}}}}},
		"origin too long": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a"),
			Entries: []*pb.StoreEntry{{Cid: mkCID(t, "c").Bytes()}}, Origin: make([]byte, protocol.MaxOriginSize+1)}}},
		"origin unmasked": {Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: []byte("a"),
			Entries: []*pb.StoreEntry{{Cid: mkCID(t, "c").Bytes()}}, Origin: []byte{24, 10, 0, 0, 1}}}},
		"fetch no key":     {Body: &pb.PeerRequest_Fetch{Fetch: &pb.FetchRequest{}}},
		"fetch over limit": {Body: &pb.PeerRequest_Fetch{Fetch: &pb.FetchRequest{Key: []byte{1}, Limit: uint32(lim.MaxLookupResults + 1)}}},
	}
	for name, m := range cases {
		if _, err := lim.DecodePeerRequest(enc(m)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	ok := &pb.PeerRequest{Id: 9, Body: &pb.PeerRequest_Fetch{Fetch: &pb.FetchRequest{Key: mkCID(t, "k").Hash(), Limit: 3}}}
	if got, err := lim.DecodePeerRequest(enc(ok)); err != nil || got.Id != 9 {
		t.Fatalf("valid fetch: %v", err)
	}
}
