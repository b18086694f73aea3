package protocol

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// CertDomain signs supernode certificates.
const CertDomain = "supertracker-supernode"

// CertPayloadType is the envelope payload type of a SupernodeCert.
var CertPayloadType = []byte("/supertracker/supernode-cert/1")

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

var _ record.Record = (*SupernodeCert)(nil)

// Domain implements record.Record.
func (c *SupernodeCert) Domain() string { return CertDomain }

// Codec implements record.Record.
func (c *SupernodeCert) Codec() []byte { return CertPayloadType }

// MarshalRecord implements record.Record.
func (c *SupernodeCert) MarshalRecord() ([]byte, error) {
	m := &pb.SupernodeCert{PeerId: []byte(c.Peer), Seq: c.Seq, IssuedUnixMs: c.Issued.UnixMilli(),
		ExpiresUnixMs: c.Expires.UnixMilli(), Leaving: c.Leaving}
	for _, a := range c.Addrs {
		m.Addrs = append(m.Addrs, a.Bytes())
	}
	return proto.Marshal(m)
}

// UnmarshalRecord implements record.Record; it enforces the limits.
func (c *SupernodeCert) UnmarshalRecord(b []byte) error {
	l := DefaultLimits
	if c.limits != nil {
		l = *c.limits
	}
	var m pb.SupernodeCert
	if err := proto.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: supernode cert: %v", ErrMalformed, err)
	}
	id, err := peer.IDFromBytes(m.PeerId)
	if err != nil {
		return fmt.Errorf("%w: supernode cert peer id: %v", ErrMalformed, err)
	}
	addrs, err := l.AddrsFromBytes(m.Addrs)
	if err != nil {
		return fmt.Errorf("supernode cert: %w", err)
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
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: signing key: %w", err)
	}
	if signer != c.Peer {
		return nil, fmt.Errorf("%w: key of %s cannot sign for %s", ErrSignerMismatch, signer, c.Peer)
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
	signer, err := l.open(envelope, c)
	if err != nil {
		return nil, fmt.Errorf("supernode cert: %w", err)
	}
	if signer != c.Peer {
		return nil, fmt.Errorf("%w: supernode cert signed by %s for %s", ErrSignerMismatch, signer, c.Peer)
	}
	if err := l.checkExpiry(c.Expires, now); err != nil {
		return nil, fmt.Errorf("supernode cert: %w", err)
	}
	c.limits = nil
	return c, nil
}
