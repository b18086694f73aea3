package protocol

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Announcement is what a leaf signs: "peer P, reachable at Addrs, holds (or,
// with Withdraw, no longer holds) the Count CIDs whose RFC 6962 tree hash is
// Root, until Expires". Seq orders a leaf's announcements. It implements
// libp2p's record.Record so it travels in a signed record envelope.
type Announcement struct {
	Peer     peer.ID
	Addrs    []ma.Multiaddr
	Seq      uint64
	Expires  time.Time
	Withdraw bool
	Root     []byte
	Count    int

	// limits used by UnmarshalRecord; nil means DefaultLimits.
	limits *Limits
}

// MarshalRecord implements record.Record.
func (a *Announcement) MarshalRecord() ([]byte, error) {
	m := &pb.Announcement{
		PeerId:        []byte(a.Peer),
		Seq:           a.Seq,
		ExpiresUnixMs: a.Expires.UnixMilli(),
		Withdraw:      a.Withdraw,
		CidsRoot:      a.Root,
		CidCount:      uint32(a.Count),
	}
	m.Addrs = addrsToBytes(a.Addrs)
	return proto.Marshal(m)
}

// UnmarshalRecord implements record.Record; it enforces the limits.
func (a *Announcement) UnmarshalRecord(b []byte) error {
	l := a.limits.orDefault()
	var m pb.Announcement
	id, addrs, err := l.unmarshalPeerRecord("announcement", b, &m)
	if err != nil {
		return err
	}
	if len(m.CidsRoot) != sha256.Size {
		return fmt.Errorf("%w: announcement root of %d bytes", ErrMalformed, len(m.CidsRoot))
	}
	if m.CidCount == 0 || m.CidCount > uint32(l.MaxCIDsPerAnnouncement) {
		return fmt.Errorf("%w: announcement of %d CIDs (want 1..%d)", ErrOverLimit, m.CidCount, l.MaxCIDsPerAnnouncement)
	}
	*a = Announcement{Peer: id, Addrs: addrs, Seq: m.Seq, Expires: time.UnixMilli(m.ExpiresUnixMs),
		Withdraw: m.Withdraw, Root: m.CidsRoot, Count: int(m.CidCount), limits: a.limits}
	return nil
}

// SignedAnnouncement is an announcement whose envelope verified: the
// signature is good, the signer is Peer, and it had not expired when opened.
type SignedAnnouncement struct {
	Announcement
	// Envelope is the signed envelope, as received.
	Envelope []byte
	// Hash is the SHA-256 of Envelope: it names the announcement in
	// receipts and in a supernode's store.
	Hash [32]byte
}

// Live reports whether the announcement is still in force at now.
func (s *SignedAnnouncement) Live(now time.Time) bool { return s.Expires.After(now) }

// Batch is a verified announcement with the CIDs its root covers.
type Batch struct {
	*SignedAnnouncement
	CIDs []cid.Cid
	Tree *CIDTree
}

// CIDsFromBytes decodes binary CIDs, enforcing count and size limits and
// refusing duplicates.
func (l Limits) CIDsFromBytes(bs [][]byte) ([]cid.Cid, error) {
	if len(bs) > l.MaxCIDsPerAnnouncement {
		return nil, fmt.Errorf("%w: %d CIDs (max %d)", ErrOverLimit, len(bs), l.MaxCIDsPerAnnouncement)
	}
	out := make([]cid.Cid, 0, len(bs))
	seen := make(map[cid.Cid]struct{}, len(bs))
	for i, b := range bs {
		c, err := l.CIDFromBytes(b)
		if err != nil {
			return nil, fmt.Errorf("CID %d: %w", i, err)
		}
		if _, dup := seen[c]; dup {
			return nil, fmt.Errorf("%w: CID %d (%s) repeated", ErrMalformed, i, c)
		}
		seen[c] = struct{}{}
		out = append(out, c)
	}
	return out, nil
}

// CIDFromBytes decodes one binary CID, enforcing the size limit.
func (l Limits) CIDFromBytes(b []byte) (cid.Cid, error) {
	if len(b) > l.MaxCIDSize {
		return cid.Undef, fmt.Errorf("%w: CID is %d bytes (max %d)", ErrOverLimit, len(b), l.MaxCIDSize)
	}
	n, c, err := cid.CidFromBytes(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: CID: %v", ErrMalformed, err)
	}
	if n != len(b) {
		return cid.Undef, fmt.Errorf("%w: CID: %d trailing bytes", ErrMalformed, len(b)-n)
	}
	return c, nil
}

// CIDsToBytes is the wire form of cids.
func CIDsToBytes(cids []cid.Cid) [][]byte {
	out := make([][]byte, len(cids))
	for i, c := range cids {
		out[i] = c.Bytes()
	}
	return out
}

// SignAnnouncement sets a's Root and Count from cids, seals a in a record
// envelope signed by key and returns the envelope bytes. key must be
// a.Peer's key, and a must be within the limits.
func (l Limits) SignAnnouncement(a *Announcement, cids []cid.Cid, key crypto.PrivKey) ([]byte, error) {
	if err := checkSigningKey(key, a.Peer); err != nil {
		return nil, err
	}
	if len(cids) == 0 || len(cids) > l.MaxCIDsPerAnnouncement {
		return nil, fmt.Errorf("%w: %d CIDs (want 1..%d)", ErrOverLimit, len(cids), l.MaxCIDsPerAnnouncement)
	}
	if len(a.Addrs) > l.MaxAddrsPerPeer {
		return nil, fmt.Errorf("%w: %d addresses (max %d)", ErrOverLimit, len(a.Addrs), l.MaxAddrsPerPeer)
	}
	a.Root, a.Count = NewCIDTree(cids).Root(), len(cids)
	return l.seal(a, key)
}

// OpenAnnouncement decodes a signed announcement envelope and verifies it:
// size and count limits, the signature, that the signer is the announced
// peer, and that it expires after now but no later than
// now+MaxAnnouncementLifetime. Only a nil error makes the result usable.
func (l Limits) OpenAnnouncement(envelope []byte, now time.Time) (*SignedAnnouncement, error) {
	a := &Announcement{limits: &l}
	if err := l.openSignedBy("announcement", envelope, a, func() peer.ID { return a.Peer }); err != nil {
		return nil, err
	}
	if err := l.checkExpiry(a.Expires, now); err != nil {
		return nil, err
	}
	s := &SignedAnnouncement{Announcement: *a, Envelope: envelope, Hash: sha256.Sum256(envelope)}
	s.limits = nil
	return s, nil
}

func (l Limits) checkExpiry(exp, now time.Time) error {
	if !exp.After(now) {
		return fmt.Errorf("%w: expired at %s", ErrExpired, exp.UTC().Format(time.RFC3339Nano))
	}
	if exp.After(now.Add(l.MaxAnnouncementLifetime)) {
		return fmt.Errorf("%w: expires %s, more than %s ahead", ErrExpired, exp.UTC().Format(time.RFC3339), l.MaxAnnouncementLifetime)
	}
	return nil
}

// BindCIDs checks that cids (wire form) are exactly the CIDs s covers and
// returns them as a Batch.
func (l Limits) BindCIDs(s *SignedAnnouncement, cidBytes [][]byte) (*Batch, error) {
	cids, err := l.CIDsFromBytes(cidBytes)
	if err != nil {
		return nil, fmt.Errorf("announcement: %w", err)
	}
	if len(cids) != s.Count {
		return nil, fmt.Errorf("%w: %d CIDs for an announcement of %d", ErrBadProof, len(cids), s.Count)
	}
	t := NewCIDTree(cids)
	if !bytes.Equal(t.Root(), s.Root) {
		return nil, fmt.Errorf("%w: the CIDs do not hash to the signed root", ErrBadProof)
	}
	return &Batch{SignedAnnouncement: s, CIDs: cids, Tree: t}, nil
}

// OpenBatch is OpenAnnouncement followed by BindCIDs.
func (l Limits) OpenBatch(envelope []byte, cidBytes [][]byte, now time.Time) (*Batch, error) {
	s, err := l.OpenAnnouncement(envelope, now)
	if err != nil {
		return nil, err
	}
	return l.BindCIDs(s, cidBytes)
}
