package protocol

import (
	"fmt"
	"time"
)

// Limits bound every message. They are enforced while decoding: a message
// over a limit is refused before it is acted on.
type Limits struct {
	// MaxMessageSize bounds one length-delimited protobuf on any stream.
	MaxMessageSize int
	// MaxEnvelopeSize bounds a signed announcement envelope.
	MaxEnvelopeSize int
	// MaxCIDsPerAnnouncement bounds the CIDs in one announcement.
	MaxCIDsPerAnnouncement int
	// MaxAddrsPerPeer bounds the multiaddrs of one peer.
	MaxAddrsPerPeer int
	// MaxAddrSize bounds one binary multiaddr.
	MaxAddrSize int
	// MaxCIDSize bounds one binary CID.
	MaxCIDSize int
	// MaxLookupResults bounds the holders in one lookup reply.
	MaxLookupResults int
	// MaxSupernodeResults bounds the supernodes in one discovery reply.
	MaxSupernodeResults int
	// MaxAnnouncementLifetime bounds how far in the future an announcement
	// may expire; it also absorbs clock skew between leaf and supernode.
	MaxAnnouncementLifetime time.Duration
	// MaxErrorSize bounds the error text in a response.
	MaxErrorSize int
	// MaxReceipts bounds the store receipts in one announce answer.
	MaxReceipts int
	// MaxGossipCerts bounds the supernode certs in one gossip message, and
	// MaxGossipDigest the members it summarises.
	MaxGossipCerts  int
	MaxGossipDigest int
}

// DefaultLimits are the limits every supertracker node uses unless told
// otherwise. A full announcement (256 CIDs of ~40 bytes, 16 addresses) is
// about 12 KiB; a full lookup reply (50 holders of 16 addresses) ~40 KiB.
var DefaultLimits = Limits{
	MaxMessageSize:          64 << 10,
	MaxEnvelopeSize:         32 << 10,
	MaxCIDsPerAnnouncement:  256,
	MaxAddrsPerPeer:         16,
	MaxAddrSize:             256,
	MaxCIDSize:              128,
	MaxLookupResults:        50,
	MaxSupernodeResults:     64,
	MaxAnnouncementLifetime: 7 * 24 * time.Hour,
	MaxErrorSize:            512,
	MaxReceipts:             256,
	MaxGossipCerts:          64,
	MaxGossipDigest:         1024,
}

// Validate reports whether every limit is positive and the derived sizes fit.
func (l Limits) Validate() error {
	switch {
	case l.MaxMessageSize <= 0:
		return fmt.Errorf("%w: MaxMessageSize must be > 0", ErrInvalidLimits)
	case l.MaxEnvelopeSize <= 0 || l.MaxEnvelopeSize > l.MaxMessageSize:
		return fmt.Errorf("%w: MaxEnvelopeSize must be in (0, MaxMessageSize]", ErrInvalidLimits)
	case l.MaxCIDsPerAnnouncement <= 0, l.MaxAddrsPerPeer <= 0, l.MaxAddrSize <= 0,
		l.MaxCIDSize <= 0, l.MaxLookupResults <= 0, l.MaxSupernodeResults <= 0, l.MaxErrorSize <= 0,
		l.MaxReceipts <= 0, l.MaxGossipCerts <= 0, l.MaxGossipDigest <= 0:
		return fmt.Errorf("%w: every count and size must be > 0", ErrInvalidLimits)
	case l.MaxAnnouncementLifetime <= 0:
		return fmt.Errorf("%w: MaxAnnouncementLifetime must be > 0", ErrInvalidLimits)
	}
	return nil
}
