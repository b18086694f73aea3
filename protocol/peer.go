package protocol

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// PeerToPB encodes a peer for the wire, keeping at most MaxAddrsPerPeer
// addresses.
func (l Limits) PeerToPB(ai peer.AddrInfo) *pb.Peer {
	p := &pb.Peer{Id: []byte(ai.ID)}
	for _, a := range ai.Addrs {
		if len(p.Addrs) == l.MaxAddrsPerPeer {
			break
		}
		p.Addrs = append(p.Addrs, a.Bytes())
	}
	return p
}

// PeerFromPB decodes and validates a peer from the wire.
func (l Limits) PeerFromPB(p *pb.Peer) (peer.AddrInfo, error) {
	if p == nil {
		return peer.AddrInfo{}, fmt.Errorf("%w: missing peer", ErrMalformed)
	}
	id, err := peer.IDFromBytes(p.Id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%w: peer id: %v", ErrMalformed, err)
	}
	addrs, err := l.AddrsFromBytes(p.Addrs)
	if err != nil {
		return peer.AddrInfo{}, err
	}
	return peer.AddrInfo{ID: id, Addrs: addrs}, nil
}

// addrsToBytes is the wire form of as.
func addrsToBytes(as []ma.Multiaddr) [][]byte {
	var out [][]byte
	for _, a := range as {
		out = append(out, a.Bytes())
	}
	return out
}

// peerRecord is a signed record's message that names a peer and its
// addresses (an announcement, a supernode cert).
type peerRecord interface {
	proto.Message
	GetPeerId() []byte
	GetAddrs() [][]byte
}

// unmarshalPeerRecord unmarshals b into m and decodes the peer ID and
// addresses it names; what names the record in errors.
func (l Limits) unmarshalPeerRecord(what string, b []byte, m peerRecord) (peer.ID, []ma.Multiaddr, error) {
	if err := proto.Unmarshal(b, m); err != nil {
		return "", nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
	}
	p, err := peer.IDFromBytes(m.GetPeerId())
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s peer id: %v", ErrMalformed, what, err)
	}
	as, err := l.AddrsFromBytes(m.GetAddrs())
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", what, err)
	}
	return p, as, nil
}

// AddrsFromBytes decodes binary multiaddrs, enforcing count and size limits.
func (l Limits) AddrsFromBytes(bs [][]byte) ([]ma.Multiaddr, error) {
	if len(bs) > l.MaxAddrsPerPeer {
		return nil, fmt.Errorf("%w: %d addresses (max %d)", ErrOverLimit, len(bs), l.MaxAddrsPerPeer)
	}
	out := make([]ma.Multiaddr, 0, len(bs))
	for i, b := range bs {
		if len(b) > l.MaxAddrSize {
			return nil, fmt.Errorf("%w: address %d is %d bytes (max %d)", ErrOverLimit, i, len(b), l.MaxAddrSize)
		}
		a, err := ma.NewMultiaddrBytes(b)
		if err != nil {
			return nil, fmt.Errorf("%w: address %d: %v", ErrMalformed, i, err)
		}
		out = append(out, a)
	}
	return out, nil
}
