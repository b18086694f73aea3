package protocol

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// AnnouncementDomain separates supertracker signatures from every other use
// of a libp2p key (record envelopes sign domain ‖ payload type ‖ payload).
const AnnouncementDomain = "supertracker-announcement"

// AnnouncementPayloadType is the envelope payload type of an Announcement.
var AnnouncementPayloadType = []byte("/supertracker/announcement/1")

// Announcement is what a leaf signs: "peer P, reachable at Addrs, holds (or,
// with Withdraw, no longer holds) CIDs, until Expires". Seq orders a leaf's
// announcements. It implements libp2p's record.Record so it travels in a
// signed record envelope (record.Seal / record.ConsumeTypedEnvelope).
type Announcement struct {
	Peer     peer.ID
	Addrs    []ma.Multiaddr
	CIDs     []cid.Cid
	Seq      uint64
	Expires  time.Time
	Withdraw bool

	// limits used by UnmarshalRecord; zero means DefaultLimits.
	limits *Limits
}

var _ record.Record = (*Announcement)(nil)

// Domain implements record.Record.
func (a *Announcement) Domain() string { return AnnouncementDomain }

// Codec implements record.Record.
func (a *Announcement) Codec() []byte { return AnnouncementPayloadType }

// MarshalRecord implements record.Record.
func (a *Announcement) MarshalRecord() ([]byte, error) {
	m := &pb.Announcement{
		PeerId:        []byte(a.Peer),
		Seq:           a.Seq,
		ExpiresUnixMs: a.Expires.UnixMilli(),
		Withdraw:      a.Withdraw,
	}
	for _, ad := range a.Addrs {
		m.Addrs = append(m.Addrs, ad.Bytes())
	}
	for _, c := range a.CIDs {
		m.Cids = append(m.Cids, c.Bytes())
	}
	return proto.Marshal(m)
}

// UnmarshalRecord implements record.Record; it enforces the limits.
func (a *Announcement) UnmarshalRecord(b []byte) error {
	l := DefaultLimits
	if a.limits != nil {
		l = *a.limits
	}
	var m pb.Announcement
	if err := proto.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: announcement: %v", ErrMalformed, err)
	}
	id, err := peer.IDFromBytes(m.PeerId)
	if err != nil {
		return fmt.Errorf("%w: announcement peer id: %v", ErrMalformed, err)
	}
	addrs, err := l.AddrsFromBytes(m.Addrs)
	if err != nil {
		return fmt.Errorf("announcement: %w", err)
	}
	cids, err := l.CIDsFromBytes(m.Cids)
	if err != nil {
		return fmt.Errorf("announcement: %w", err)
	}
	if len(cids) == 0 {
		return fmt.Errorf("%w: announcement has no CIDs", ErrMalformed)
	}
	*a = Announcement{Peer: id, Addrs: addrs, CIDs: cids, Seq: m.Seq,
		Expires: time.UnixMilli(m.ExpiresUnixMs), Withdraw: m.Withdraw, limits: a.limits}
	return nil
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

// SignAnnouncement seals a in a record envelope signed by key and returns the
// envelope bytes. key must be a.Peer's key, and a must be within the limits.
func (l Limits) SignAnnouncement(a *Announcement, key crypto.PrivKey) ([]byte, error) {
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("protocol: signing key: %w", err)
	}
	if signer != a.Peer {
		return nil, fmt.Errorf("%w: key of %s cannot sign for %s", ErrSignerMismatch, signer, a.Peer)
	}
	if len(a.CIDs) == 0 || len(a.CIDs) > l.MaxCIDsPerAnnouncement {
		return nil, fmt.Errorf("%w: %d CIDs (want 1..%d)", ErrOverLimit, len(a.CIDs), l.MaxCIDsPerAnnouncement)
	}
	if len(a.Addrs) > l.MaxAddrsPerPeer {
		return nil, fmt.Errorf("%w: %d addresses (max %d)", ErrOverLimit, len(a.Addrs), l.MaxAddrsPerPeer)
	}
	env, err := record.Seal(a, key)
	if err != nil {
		return nil, fmt.Errorf("protocol: sealing announcement: %w", err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("protocol: marshalling envelope: %w", err)
	}
	if len(b) > l.MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope is %d bytes (max %d)", ErrMessageTooLarge, len(b), l.MaxEnvelopeSize)
	}
	return b, nil
}

// OpenAnnouncement decodes a signed announcement envelope and verifies it:
// size and count limits, the signature, that the signer is the announced
// peer, and that it expires after now but no later than
// now+MaxAnnouncementLifetime. Only a nil error makes the result usable.
func (l Limits) OpenAnnouncement(envelope []byte, now time.Time) (*Announcement, error) {
	if len(envelope) > l.MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope is %d bytes (max %d)", ErrMessageTooLarge, len(envelope), l.MaxEnvelopeSize)
	}
	env, err := record.UnmarshalEnvelope(envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	}
	if !bytes.Equal(env.PayloadType, AnnouncementPayloadType) {
		return nil, fmt.Errorf("%w: envelope payload type %q is not an announcement", ErrMalformed, env.PayloadType)
	}
	// Parse (cheap, limit-checked) before verifying the signature (costly).
	a := &Announcement{limits: &l}
	if err := a.UnmarshalRecord(env.RawPayload); err != nil {
		return nil, err
	}
	if _, err := record.ConsumeTypedEnvelope(envelope, a); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: signer key: %v", ErrMalformed, err)
	}
	if signer != a.Peer {
		return nil, fmt.Errorf("%w: signed by %s for %s", ErrSignerMismatch, signer, a.Peer)
	}
	if !a.Expires.After(now) {
		return nil, fmt.Errorf("%w: expired at %s", ErrExpired, a.Expires.UTC().Format(time.RFC3339))
	}
	if a.Expires.After(now.Add(l.MaxAnnouncementLifetime)) {
		return nil, fmt.Errorf("%w: expires %s, more than %s ahead", ErrExpired, a.Expires.UTC().Format(time.RFC3339), l.MaxAnnouncementLifetime)
	}
	return a, nil
}
