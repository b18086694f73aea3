package protocol

import (
	"bytes"
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// The signed records (Announcement, SupernodeCert, Receipt) travel in
// libp2p record envelopes; this file names, seals and opens them.

// Signing domains and payload types of the signed records. A domain
// separates supertracker signatures from every other use of a libp2p key
// (record envelopes sign domain ‖ payload type ‖ payload); the payload type
// names the record and its version.
const (
	// AnnouncementDomain signs a leaf's announcements.
	AnnouncementDomain = "supertracker-announcement"
	// CertDomain signs supernode certificates.
	CertDomain = "supertracker-supernode"
	// ReceiptDomain signs store receipts.
	ReceiptDomain = "supertracker-receipt"
)

var (
	// AnnouncementPayloadType is the envelope payload type of an
	// Announcement. Version 2 signs the Merkle root of the CIDs instead of
	// the CIDs.
	AnnouncementPayloadType = []byte("/supertracker/announcement/2")
	// CertPayloadType is the envelope payload type of a SupernodeCert.
	CertPayloadType = []byte("/supertracker/supernode-cert/1")
	// ReceiptPayloadType is the envelope payload type of a Receipt.
	ReceiptPayloadType = []byte("/supertracker/receipt/1")
)

// The signed records implement libp2p's record.Record.
var (
	_ record.Record = (*Announcement)(nil)
	_ record.Record = (*SupernodeCert)(nil)
	_ record.Record = (*Receipt)(nil)
)

// Domain implements record.Record.
func (a *Announcement) Domain() string { return AnnouncementDomain }

// Codec implements record.Record.
func (a *Announcement) Codec() []byte { return AnnouncementPayloadType }

// Domain implements record.Record.
func (c *SupernodeCert) Domain() string { return CertDomain }

// Codec implements record.Record.
func (c *SupernodeCert) Codec() []byte { return CertPayloadType }

// Domain implements record.Record.
func (r *Receipt) Domain() string { return ReceiptDomain }

// Codec implements record.Record.
func (r *Receipt) Codec() []byte { return ReceiptPayloadType }

// orDefault is *l, or DefaultLimits for a nil l (a record decoded outside
// Open*, e.g. by record.ConsumeEnvelope).
func (l *Limits) orDefault() Limits {
	if l == nil {
		return DefaultLimits
	}
	return *l
}

// checkSigningKey refuses to sign with key for anyone but author, the peer
// the record names.
func checkSigningKey(key crypto.PrivKey, author peer.ID) error {
	signer, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return fmt.Errorf("protocol: signing key: %w", err)
	}
	if signer != author {
		return fmt.Errorf("%w: key of %s cannot sign for %s", ErrSignerMismatch, signer, author)
	}
	return nil
}

// openSignedBy opens envelope into rec (see open) and checks that the
// signer is author() — the peer rec names, read once rec is decoded. what
// names the record in errors.
func (l Limits) openSignedBy(what string, envelope []byte, rec record.Record, author func() peer.ID) error {
	signer, err := l.open(envelope, rec)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if a := author(); signer != a {
		return fmt.Errorf("%w: %s signed by %s for %s", ErrSignerMismatch, what, signer, a)
	}
	return nil
}

// seal signs rec with key into a marshalled envelope within the size limit.
func (l Limits) seal(rec record.Record, key crypto.PrivKey) ([]byte, error) {
	env, err := record.Seal(rec, key)
	if err != nil {
		return nil, fmt.Errorf("protocol: sealing: %w", err)
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

// open verifies an envelope's signature and payload type and unmarshals the
// payload into rec (once); it returns the signer.
func (l Limits) open(envelope []byte, rec record.Record) (peer.ID, error) {
	if len(envelope) > l.MaxEnvelopeSize {
		return "", fmt.Errorf("%w: envelope is %d bytes (max %d)", ErrMessageTooLarge, len(envelope), l.MaxEnvelopeSize)
	}
	env, err := record.ConsumeTypedEnvelope(envelope, rec)
	switch {
	case err == nil:
	case env == nil:
		return "", fmt.Errorf("%w: envelope: %v", ErrMalformed, err)
	case !bytes.Equal(env.PayloadType, rec.Codec()):
		return "", fmt.Errorf("%w: envelope payload type %q, want %q", ErrMalformed, env.PayloadType, rec.Codec())
	case isDecodeError(err):
		return "", err
	default:
		return "", fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if !bytes.Equal(env.PayloadType, rec.Codec()) {
		return "", fmt.Errorf("%w: envelope payload type %q, want %q", ErrMalformed, env.PayloadType, rec.Codec())
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return "", fmt.Errorf("%w: signer key: %v", ErrMalformed, err)
	}
	return signer, nil
}
