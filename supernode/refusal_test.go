package supernode_test

import (
	"bytes"
	"crypto/rand"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

type rawLeaf struct {
	t *testing.T
	h host.Host
	s network.Stream
	r *protocol.MsgReader
}

func dialRaw(t *testing.T, h host.Host, sn *supernode.Node) *rawLeaf {
	t.Helper()
	if err := h.Connect(t.Context(), sn.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(t.Context(), sn.Host().ID(), protocol.LeafProtocol)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawLeaf{t: t, h: h, s: s, r: protocol.DefaultLimits.NewReader(s)}
}

func (l *rawLeaf) send(req *pb.Request) *pb.Response {
	l.t.Helper()
	if err := protocol.WriteMsg(l.s, req); err != nil {
		l.t.Fatal(err)
	}
	return l.read()
}

func (l *rawLeaf) read() *pb.Response {
	l.t.Helper()
	frame, err := l.r.ReadFrame()
	if err != nil {
		l.t.Fatalf("reading response: %v", err)
	}
	resp, err := protocol.DefaultLimits.DecodeResponse(frame)
	if err != nil {
		l.t.Fatal(err)
	}
	return resp
}

func announceReq(env []byte) *pb.Request {
	return &pb.Request{Id: 1, Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: env}}}
}

func signFor(t *testing.T, id peer.ID, k crypto.PrivKey, c cid.Cid) []byte {
	t.Helper()
	env, err := record.Seal(&protocol.Announcement{Peer: id, CIDs: []cid.Cid{c}, Seq: 1, Expires: time.Now().Add(time.Minute)}, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Acceptance 4: supernodes refuse bad signatures, signers other than the
// announcing leaf, malformed and oversized messages, with an error and no
// panic, and keep serving.
func TestSupernodeRefusesBadAnnouncements(t *testing.T) {
	sns := inproc.StartSupernodes(t, 3, inproc.SupernodeConfig())
	h := inproc.NewHost(t)
	l := dialRaw(t, h, sns[0])
	if resp := l.send(&pb.Request{Id: 1, Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: true}}}); resp.Status != pb.Status_OK {
		t.Fatalf("attach: %v %s", resp.Status, resp.Error)
	}
	myKey := h.Peerstore().PrivKey(h.ID())
	otherKey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	otherID, _ := peer.IDFromPrivateKey(otherKey)
	c := inproc.CID(t, "refusals")

	// Another peer's valid announcement, relayed by us: signer ≠ announcing leaf.
	if resp := l.send(announceReq(signFor(t, otherID, otherKey, c))); resp.Status != pb.Status_REFUSED {
		t.Fatalf("announcement signed by another peer: %v %s", resp.Status, resp.Error)
	}
	// Our record signed with another key: signer ≠ announced peer.
	if resp := l.send(announceReq(signFor(t, h.ID(), otherKey, c))); resp.Status != pb.Status_REFUSED {
		t.Fatalf("record signed by the wrong key: %v %s", resp.Status, resp.Error)
	}
	// A corrupted signature.
	env := signFor(t, h.ID(), myKey, c)
	env[len(env)-1] ^= 0xff
	if resp := l.send(announceReq(env)); resp.Status != pb.Status_REFUSED {
		t.Fatalf("bad signature: %v %s", resp.Status, resp.Error)
	}
	// Garbage in a well-framed message.
	if resp := l.send(announceReq([]byte("garbage"))); resp.Status != pb.Status_BAD_REQUEST {
		t.Fatalf("garbage envelope: %v %s", resp.Status, resp.Error)
	}
	// A frame that is not a protobuf at all.
	if _, err := l.s.Write([]byte{3, 0xff, 0xff, 0xff}); err != nil {
		t.Fatal(err)
	}
	if resp := l.read(); resp.Status != pb.Status_BAD_REQUEST {
		t.Fatalf("malformed frame: %v %s", resp.Status, resp.Error)
	}
	// Nothing was stored for any of them.
	for _, sn := range sns {
		if provs, _ := sn.DHT().ProviderStore().GetProviders(t.Context(), c.Hash()); len(provs) != 0 {
			t.Fatalf("a refused record was stored: %v", provs)
		}
	}
	// An oversized frame: refused before it is read, then the stream is reset.
	var big bytes.Buffer
	big.Write([]byte{0x80, 0x80, 0x80, 0x01}) // varint 2 MiB
	if _, err := l.s.Write(big.Bytes()); err != nil {
		t.Fatal(err)
	}
	if resp := l.read(); resp.Status != pb.Status_BAD_REQUEST {
		t.Fatalf("oversized frame: %v %s", resp.Status, resp.Error)
	}

	// The supernode still serves: a valid announcement on a new stream works.
	l2 := dialRaw(t, h, sns[0])
	l2.send(&pb.Request{Id: 1, Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: true}}})
	if resp := l2.send(announceReq(signFor(t, h.ID(), myKey, c))); resp.Status != pb.Status_OK || resp.GetAnnounce().GetReplicas() == 0 {
		t.Fatalf("valid announcement after refusals: %v %s", resp.Status, resp.Error)
	}
}

// A supernode cannot forge a leaf's record on another supernode: replicas
// verify the signature themselves.
func TestReplicaRefusesForgedRecord(t *testing.T) {
	sns := inproc.StartSupernodes(t, 2, inproc.SupernodeConfig())
	victimKey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	victim, _ := peer.IDFromPrivateKey(victimKey)
	forgerKey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	c := inproc.CID(t, "forged")
	h := inproc.NewHost(t)
	if err := h.Connect(t.Context(), sns[1].AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(t.Context(), sns[1].Host().ID(), protocol.ReplicateProtocol)
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteMsg(s, &pb.ReplicateRequest{Envelope: signFor(t, victim, forgerKey, c)}); err != nil {
		t.Fatal(err)
	}
	frame, err := protocol.DefaultLimits.NewReader(s).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := protocol.DefaultLimits.DecodeReplicateResponse(frame)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != pb.Status_REFUSED || resp.Stored != 0 {
		t.Fatalf("forged replica: %v %q stored=%d", resp.Status, resp.Error, resp.Stored)
	}
	if provs, _ := sns[1].DHT().ProviderStore().GetProviders(t.Context(), c.Hash()); len(provs) != 0 {
		t.Fatalf("forged record stored: %v", provs)
	}
}
