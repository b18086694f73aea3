package protocol

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// SupernodeCert is what a supernode signs about itself to enter the others'
// membership views: its addresses, and that it serves as a supernode until
// Expires (it re-issues the cert with a higher Seq before then). A
// supernode that steps down issues one with Leaving set.
type SupernodeCert struct {
	Peer    peer.ID
	Addrs   []ma.Multiaddr
	Seq     uint64
	Issued  time.Time
	Expires time.Time
	Leaving bool

	limits *Limits
}

// MarshalRecord implements record.Record.
func (c *SupernodeCert) MarshalRecord() ([]byte, error) {
	m := &pb.SupernodeCert{PeerId: []byte(c.Peer), Seq: c.Seq, IssuedUnixMs: c.Issued.UnixMilli(),
		ExpiresUnixMs: c.Expires.UnixMilli(), Leaving: c.Leaving}
	m.Addrs = addrsToBytes(c.Addrs)
	return proto.Marshal(m)
}

// UnmarshalRecord implements record.Record; it enforces the limits.
func (c *SupernodeCert) UnmarshalRecord(b []byte) error {
	l := c.limits.orDefault()
	var m pb.SupernodeCert
	id, addrs, err := l.unmarshalPeerRecord("supernode cert", b, &m)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return fmt.Errorf("%w: supernode cert without addresses", ErrMalformed)
	}
	*c = SupernodeCert{Peer: id, Addrs: addrs, Seq: m.Seq, Issued: time.UnixMilli(m.IssuedUnixMs),
		Expires: time.UnixMilli(m.ExpiresUnixMs), Leaving: m.Leaving, limits: c.limits}
	return nil
}

// SignCert seals c with the supernode's key.
func (l Limits) SignCert(c *SupernodeCert, key crypto.PrivKey) ([]byte, error) {
	if err := checkSigningKey(key, c.Peer); err != nil {
		return nil, err
	}
	if len(c.Addrs) == 0 || len(c.Addrs) > l.MaxAddrsPerPeer {
		return nil, fmt.Errorf("%w: %d addresses (want 1..%d)", ErrOverLimit, len(c.Addrs), l.MaxAddrsPerPeer)
	}
	return l.seal(c, key)
}

// OpenCert verifies a supernode cert: signature, signer, and that it is in
// force at now (not expired, and not expiring further ahead than
// MaxAnnouncementLifetime).
func (l Limits) OpenCert(envelope []byte, now time.Time) (*SupernodeCert, error) {
	c := &SupernodeCert{limits: &l}
	if err := l.openSignedBy("supernode cert", envelope, c, func() peer.ID { return c.Peer }); err != nil {
		return nil, err
	}
	if err := l.checkExpiry(c.Expires, now); err != nil {
		return nil, fmt.Errorf("supernode cert: %w", err)
	}
	c.limits = nil
	return c, nil
}
