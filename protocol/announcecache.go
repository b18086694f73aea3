package protocol

import (
	"crypto/sha256"
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/supertracker/supertracker/protocol/pb"
)

// AnnouncementCache opens signed announcements like Limits.OpenAnnouncement
// but checks each envelope's Ed25519 signature once: an envelope that
// verified is remembered by its SHA-256 (as Bitcoin's signature cache is),
// and a later Open of the same bytes only checks its expiry. A lookup
// answer repeats the same few envelopes (every holder's newest
// announcement), and one signature check costs ~75 µs on a busy 2-core
// machine: most of a loopback lookup. The cache keeps no envelope bytes.
// Safe for concurrent use.
type AnnouncementCache struct {
	limits Limits
	c      *lru.Cache[[32]byte, *SignedAnnouncement]
}

// NewAnnouncementCache returns a cache of at most size verified
// announcements (each ~200 B without its envelope).
func NewAnnouncementCache(l Limits, size int) (*AnnouncementCache, error) {
	c, err := lru.New[[32]byte, *SignedAnnouncement](size)
	if err != nil {
		return nil, fmt.Errorf("announcement cache: %w", err)
	}
	return &AnnouncementCache{limits: l, c: c}, nil
}

// Open is Limits.OpenAnnouncement, verifying the signature of envelope
// only if these bytes were not verified before.
func (c *AnnouncementCache) Open(envelope []byte, now time.Time) (*SignedAnnouncement, error) {
	if len(envelope) > c.limits.MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: envelope of %d bytes (max %d)", ErrMessageTooLarge, len(envelope), c.limits.MaxEnvelopeSize)
	}
	if a, ok := c.c.Get(sha256.Sum256(envelope)); ok {
		if err := c.limits.checkExpiry(a.Expires, now); err != nil {
			return nil, err
		}
		cp := *a
		cp.Envelope = envelope
		return &cp, nil
	}
	a, err := c.limits.OpenAnnouncement(envelope, now)
	if err != nil {
		return nil, err
	}
	cp := *a
	cp.Envelope = nil // the caller's bytes
	c.c.Add(a.Hash, &cp)
	return a, nil
}

// OpenHolder is Limits.OpenHolder with the holder's announcement opened
// through the cache.
func (c *AnnouncementCache) OpenHolder(h *pb.Holder, key []byte, now time.Time) (Holder, error) {
	return c.limits.openHolder(h, key, now, c.Open)
}
