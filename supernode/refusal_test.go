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

func announceReq(env []byte, cids ...cid.Cid) *pb.Request {
	return &pb.Request{Id: 1, Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: env, Cids: protocol.CIDsToBytes(cids)}}}
}

// signFor seals an announcement of c naming id with key k, whether or not
// k is id's (a forger's view).
func signFor(t *testing.T, id peer.ID, k crypto.PrivKey, c cid.Cid) []byte {
	t.Helper()
	a := &protocol.Announcement{Peer: id, Seq: 1, Expires: time.Now().Add(time.Minute),
		Root: protocol.NewCIDTree([]cid.Cid{c}).Root(), Count: 1}
	env, err := record.Seal(a, k)
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
	if resp := l.send(announceReq(signFor(t, otherID, otherKey, c), c)); resp.Status != pb.Status_REFUSED {
		t.Fatalf("announcement signed by another peer: %v %s", resp.Status, resp.Error)
	}
	// Our record signed with another key: signer ≠ announced peer.
	if resp := l.send(announceReq(signFor(t, h.ID(), otherKey, c), c)); resp.Status != pb.Status_REFUSED {
		t.Fatalf("record signed by the wrong key: %v %s", resp.Status, resp.Error)
	}
	// A corrupted signature.
	env := signFor(t, h.ID(), myKey, c)
	env[len(env)-1] ^= 0xff
	if resp := l.send(announceReq(env, c)); resp.Status != pb.Status_REFUSED {
		t.Fatalf("bad signature: %v %s", resp.Status, resp.Error)
	}
	// A valid signature over other CIDs than the ones sent.
	if resp := l.send(announceReq(signFor(t, h.ID(), myKey, c), inproc.CID(t, "not signed"))); resp.Status != pb.Status_REFUSED {
		t.Fatalf("CIDs the signature does not cover: %v %s", resp.Status, resp.Error)
	}
	// Garbage in a well-framed message.
	if resp := l.send(announceReq([]byte("garbage"), c)); resp.Status != pb.Status_BAD_REQUEST {
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
		if n := sn.Stats().Records; n != 0 {
			t.Fatalf("a refused record was stored: %d records", n)
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
	if resp := l2.send(announceReq(signFor(t, h.ID(), myKey, c), c)); resp.Status != pb.Status_OK || resp.GetAnnounce().GetReplicas() == 0 {
		t.Fatalf("valid announcement after refusals: %v %s", resp.Status, resp.Error)
	}
}

// Replica stores are refused to peers that did not open a supernode
// session, and a supernode cannot forge a leaf's record on another:
// replicas verify the signature themselves.
func TestReplicaRefusesUnsessionedAndForgedStores(t *testing.T) {
	sns := inproc.StartSupernodes(t, 2, inproc.SupernodeConfig())
	victimKey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	victim, _ := peer.IDFromPrivateKey(victimKey)
	forgerKey, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	c := inproc.CID(t, "forged")
	store := func(env []byte) *pb.PeerRequest {
		return &pb.PeerRequest{Id: 7, Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: env,
			Entries: []*pb.StoreEntry{{Cid: c.Bytes(), Index: 0}}}}}
	}

	// No hello: refused, even for a genuine announcement.
	h := inproc.NewHost(t)
	p := dialPeer(t, h, sns[1])
	if resp := p.send(store(signFor(t, victim, victimKey, c))); resp.Status != pb.Status_REFUSED {
		t.Fatalf("store without a session: %v %q", resp.Status, resp.Error)
	}
	// A hello with a cert that is not the caller's: refused.
	if resp := p.send(hello(t, victim, victimKey, h)); resp.Status != pb.Status_REFUSED {
		t.Fatalf("hello with another peer's cert: %v %q", resp.Status, resp.Error)
	}
	// With a session (any peer may declare itself a supernode), a forged
	// record is refused.
	if resp := p.send(hello(t, h.ID(), h.Peerstore().PrivKey(h.ID()), h)); resp.Status != pb.Status_OK {
		t.Fatalf("hello: %v %q", resp.Status, resp.Error)
	}
	if resp := p.send(store(signFor(t, victim, forgerKey, c))); resp.Status != pb.Status_REFUSED {
		t.Fatalf("forged store: %v %q", resp.Status, resp.Error)
	}
	if n := sns[1].Stats().Records; n != 0 {
		t.Fatalf("forged record stored: %d records", n)
	}
}

type rawPeer struct {
	t *testing.T
	s network.Stream
	r *protocol.MsgReader
}

func dialPeer(t *testing.T, h host.Host, sn *supernode.Node) *rawPeer {
	t.Helper()
	if err := h.Connect(t.Context(), sn.AddrInfo()); err != nil {
		t.Fatal(err)
	}
	s, err := h.NewStream(t.Context(), sn.Host().ID(), protocol.PeerProtocol)
	if err != nil {
		t.Fatal(err)
	}
	_ = s.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawPeer{t: t, s: s, r: protocol.DefaultLimits.NewReader(s)}
}

func (p *rawPeer) send(req *pb.PeerRequest) *pb.PeerResponse {
	p.t.Helper()
	if err := protocol.WriteMsg(p.s, req); err != nil {
		p.t.Fatal(err)
	}
	frame, err := p.r.ReadFrame()
	if err != nil {
		p.t.Fatalf("reading response: %v", err)
	}
	resp, err := protocol.DefaultLimits.DecodePeerResponse(frame)
	if err != nil {
		p.t.Fatal(err)
	}
	return resp
}

// hello is a PeerProtocol hello with a cert naming id, signed with k, at
// h's addresses.
func hello(t *testing.T, id peer.ID, k crypto.PrivKey, h host.Host) *pb.PeerRequest {
	t.Helper()
	now := time.Now()
	env, err := record.Seal(&protocol.SupernodeCert{Peer: id, Addrs: h.Addrs(), Seq: 1, Issued: now, Expires: now.Add(time.Minute)}, k)
	if err != nil {
		t.Fatal(err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return &pb.PeerRequest{Id: 1, Body: &pb.PeerRequest_Hello{Hello: &pb.HelloRequest{Cert: b}}}
}
