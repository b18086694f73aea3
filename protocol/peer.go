package protocol

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

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

// recordPeer decodes the peer ID and addresses a signed record names; what
// names the record in errors.
func (l Limits) recordPeer(what string, id []byte, addrs [][]byte) (peer.ID, []ma.Multiaddr, error) {
	p, err := peer.IDFromBytes(id)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s peer id: %v", ErrMalformed, what, err)
	}
	as, err := l.AddrsFromBytes(addrs)
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
