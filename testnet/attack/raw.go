package attack

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	dhtpb "github.com/libp2p/go-libp2p-kad-dht/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	libp2pprotocol "github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Raw protocol clients: what an attacker writes against go-libp2p and our
// wire messages, with no honest code in the way.

// KadProtocol is the supernode DHT's kad protocol ID.
const KadProtocol = protocol.DHTPrefix + "/kad/1.0.0"

// rawTimeout bounds one raw exchange.
const rawTimeout = 10 * time.Second

// rawStream is one raw stream to a supernode: numbered requests, one
// frame back each, a deadline per exchange.
type rawStream struct {
	s  network.Stream
	r  *protocol.MsgReader
	id uint64
}

// dialRaw connects h to sn and opens a stream of proto.
func dialRaw(ctx context.Context, h host.Host, sn peer.AddrInfo, proto libp2pprotocol.ID) (rawStream, error) {
	if err := h.Connect(ctx, sn); err != nil {
		return rawStream{}, err
	}
	s, err := h.NewStream(ctx, sn.ID, proto)
	if err != nil {
		return rawStream{}, err
	}
	return rawStream{s: s, r: protocol.DefaultLimits.NewReader(s)}, nil
}

// exchange numbers req (setID gets the next ID), writes it and reads the
// answer's frame.
func (c *rawStream) exchange(req proto.Message, setID func(uint64)) ([]byte, error) {
	c.id++
	setID(c.id)
	_ = c.s.SetDeadline(time.Now().Add(rawTimeout))
	if err := protocol.WriteMsg(c.s, req); err != nil {
		return nil, err
	}
	return c.r.ReadFrame()
}

// LeafConn is a raw leaf-protocol stream to a supernode.
type LeafConn struct{ rawStream }

// DialLeaf connects h to sn and opens a leaf-protocol stream.
func DialLeaf(ctx context.Context, h host.Host, sn peer.AddrInfo) (*LeafConn, error) {
	rs, err := dialRaw(ctx, h, sn, protocol.LeafProtocol)
	if err != nil {
		return nil, err
	}
	return &LeafConn{rs}, nil
}

// Call sends req and reads its answer.
func (c *LeafConn) Call(req *pb.Request) (*pb.Response, error) {
	frame, err := c.exchange(req, func(id uint64) { req.Id = id })
	if err != nil {
		return nil, err
	}
	return protocol.DefaultLimits.DecodeResponse(frame)
}

// Attach attaches as a primary, naming supernodes (what a leaf gossips).
func (c *LeafConn) Attach(supernodes ...*pb.Peer) (*pb.Response, error) {
	return c.Call(&pb.Request{Body: &pb.Request_Attach{Attach: &pb.AttachRequest{Primary: true, Supernodes: supernodes}}})
}

// Announce sends a signed envelope with its CIDs.
func (c *LeafConn) Announce(env []byte, cids []cid.Cid) (*pb.Response, error) {
	return c.Call(&pb.Request{Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: env, Cids: protocol.CIDsToBytes(cids)}}})
}

// Close resets the stream.
func (c *LeafConn) Close() { c.s.Reset() }

// PeerConn is a raw peer-protocol (supernode↔supernode) stream.
type PeerConn struct{ rawStream }

// DialPeer connects h to sn and opens a peer-protocol stream (no hello).
func DialPeer(ctx context.Context, h host.Host, sn peer.AddrInfo) (*PeerConn, error) {
	rs, err := dialRaw(ctx, h, sn, protocol.PeerProtocol)
	if err != nil {
		return nil, err
	}
	return &PeerConn{rs}, nil
}

// Call sends req and reads its answer.
func (c *PeerConn) Call(req *pb.PeerRequest) (*pb.PeerResponse, error) {
	frame, err := c.exchange(req, func(id uint64) { req.Id = id })
	if err != nil {
		return nil, err
	}
	return protocol.DefaultLimits.DecodePeerResponse(frame)
}

// Hello presents a supernode cert for h signed with h's own key: any peer
// may declare itself a supernode.
func (c *PeerConn) Hello(h host.Host) (*pb.PeerResponse, error) {
	env, err := SelfCert(h, time.Minute)
	if err != nil {
		return nil, err
	}
	return c.Call(&pb.PeerRequest{Body: &pb.PeerRequest_Hello{Hello: &pb.HelloRequest{Cert: env}}})
}

// Store asks the supernode to store entries of the announcement env.
func (c *PeerConn) Store(env []byte, entries []*pb.StoreEntry) (*pb.PeerResponse, error) {
	return c.Call(&pb.PeerRequest{Body: &pb.PeerRequest_Store{Store: &pb.StoreRequest{Announcement: env, Entries: entries}}})
}

// Close resets the stream.
func (c *PeerConn) Close() { c.s.Reset() }

// SelfCert is a supernode cert for h, signed by h, naming h's addresses.
func SelfCert(h host.Host, ttl time.Duration) ([]byte, error) {
	now := time.Now()
	c := &protocol.SupernodeCert{Peer: h.ID(), Addrs: h.Addrs(), Seq: uint64(now.UnixNano()), Issued: now, Expires: now.Add(ttl)}
	return protocol.DefaultLimits.SignCert(c, h.Peerstore().PrivKey(h.ID()))
}

// Entries are store entries for every CID of cids (as signed, in order)
// with their inclusion proofs.
func Entries(cids []cid.Cid) []*pb.StoreEntry {
	t := protocol.NewCIDTree(cids)
	out := make([]*pb.StoreEntry, len(cids))
	for i, c := range cids {
		proof, _ := t.Proof(i)
		out[i] = &pb.StoreEntry{Cid: c.Bytes(), Index: uint32(i), Proof: proof}
	}
	return out
}

// Signed describes an announcement to seal.
type Signed struct {
	Peer     peer.ID // the peer it names
	Key      crypto.PrivKey
	Addrs    []ma.Multiaddr
	Seq      uint64
	Expires  time.Time
	Withdraw bool
}

// Seal signs an announcement of cids with s.Key naming s.Peer, whether or
// not the key is that peer's (a forger's view): the checks are the
// receiver's.
func Seal(s Signed, cids []cid.Cid) ([]byte, error) {
	a := &protocol.Announcement{Peer: s.Peer, Addrs: s.Addrs, Seq: s.Seq, Expires: s.Expires, Withdraw: s.Withdraw,
		Root: protocol.NewCIDTree(cids).Root(), Count: len(cids)}
	env, err := record.Seal(a, s.Key)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// SealOwn signs an announcement of cids by h itself, at h's addresses.
func SealOwn(h host.Host, cids []cid.Cid, seq uint64, ttl time.Duration, withdraw bool) ([]byte, error) {
	return Seal(Signed{Peer: h.ID(), Key: h.Peerstore().PrivKey(h.ID()), Addrs: h.Addrs(), Seq: seq,
		Expires: time.Now().Add(ttl), Withdraw: withdraw}, cids)
}

// KadAddProvider sends one raw ADD_PROVIDER for key to sn, naming provider
// at addrs. kad-dht answers ADD_PROVIDER with nothing: there is no answer
// to read.
func KadAddProvider(ctx context.Context, h host.Host, sn peer.AddrInfo, key []byte, provider peer.ID, addrs []ma.Multiaddr) error {
	if err := h.Connect(ctx, sn); err != nil {
		return err
	}
	s, err := h.NewStream(ctx, sn.ID, KadProtocol)
	if err != nil {
		return err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(rawTimeout))
	m := dhtpb.NewMessage(dhtpb.Message_ADD_PROVIDER, key, 0)
	m.ProviderPeers = dhtpb.RawPeerInfosToPBPeers([]peer.AddrInfo{{ID: provider, Addrs: addrs}})
	return protocol.WriteMsg(s, m)
}

// kadReadLimits read kad answers (closer peers and providers can exceed
// our own 64 KiB frames).
var kadReadLimits = protocol.Limits{MaxMessageSize: 4 << 20}

// KadGetProviders sends one raw GET_PROVIDERS for key to sn and returns the
// providers in its answer.
func KadGetProviders(ctx context.Context, h host.Host, sn peer.AddrInfo, key []byte) ([]peer.AddrInfo, error) {
	if err := h.Connect(ctx, sn); err != nil {
		return nil, err
	}
	s, err := h.NewStream(ctx, sn.ID, KadProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(rawTimeout))
	if err := protocol.WriteMsg(s, dhtpb.NewMessage(dhtpb.Message_GET_PROVIDERS, key, 0)); err != nil {
		return nil, err
	}
	frame, err := kadReadLimits.NewReader(s).ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("GET_PROVIDERS answer: %w", err)
	}
	var resp dhtpb.Message
	if err := proto.Unmarshal(frame, &resp); err != nil {
		return nil, err
	}
	var out []peer.AddrInfo
	for _, p := range resp.GetProviderPeers() {
		out = append(out, dhtpb.PBPeerToPeerInfo(p))
	}
	return out, nil
}

// Lookup asks for holders of c (in wire form: envelopes and proofs, which
// is how an attacker captures a leaf's genuine announcement).
func (c *LeafConn) Lookup(k cid.Cid) ([]*pb.Holder, error) {
	resp, err := c.Call(&pb.Request{Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: k.Bytes()}}})
	if err != nil {
		return nil, err
	}
	if err := protocol.ResponseError(resp.Status, resp.Error); err != nil {
		return nil, err
	}
	return resp.GetLookup().GetHolders(), nil
}

// Discover asks for the supernodes (and other peers) the supernode names.
func (c *LeafConn) Discover() ([]peer.AddrInfo, error) {
	resp, err := c.Call(&pb.Request{Body: &pb.Request_Supernodes{Supernodes: &pb.SupernodesRequest{}}})
	if err != nil {
		return nil, err
	}
	if err := protocol.ResponseError(resp.Status, resp.Error); err != nil {
		return nil, err
	}
	var out []peer.AddrInfo
	for _, p := range append(resp.GetSupernodes().GetSupernodes(), resp.GetSupernodes().GetPeers()...) {
		if ai, err := protocol.DefaultLimits.PeerFromPB(p); err == nil {
			out = append(out, ai)
		}
	}
	return out, nil
}

// KadFindPeer sends one raw FIND_NODE for id to sn and returns the
// addresses its answer gives for id (kad-dht puts the target first when
// its peerstore has addresses for it).
func KadFindPeer(ctx context.Context, h host.Host, sn peer.AddrInfo, id peer.ID) ([]ma.Multiaddr, error) {
	if err := h.Connect(ctx, sn); err != nil {
		return nil, err
	}
	s, err := h.NewStream(ctx, sn.ID, KadProtocol)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	_ = s.SetDeadline(time.Now().Add(rawTimeout))
	if err := protocol.WriteMsg(s, dhtpb.NewMessage(dhtpb.Message_FIND_NODE, []byte(id), 0)); err != nil {
		return nil, err
	}
	frame, err := kadReadLimits.NewReader(s).ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("FIND_NODE answer: %w", err)
	}
	var resp dhtpb.Message
	if err := proto.Unmarshal(frame, &resp); err != nil {
		return nil, err
	}
	for _, p := range resp.GetCloserPeers() {
		if ai := dhtpb.PBPeerToPeerInfo(p); ai.ID == id {
			return ai.Addrs, nil
		}
	}
	return nil, nil
}
