package protocol_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/supertracker/supertracker/protocol"
)

// The cache answers as OpenAnnouncement does: the same fields for the same
// bytes, the caller's envelope returned, expiry checked on every Open (a
// cached entry expires like any other), a forged copy of a cached envelope
// still refused, and an oversized envelope refused before it is hashed.
func TestAnnouncementCacheOpensLikeOpenAnnouncement(t *testing.T) {
	c, err := protocol.NewAnnouncementCache(lim, 4)
	if err != nil {
		t.Fatal(err)
	}
	k, id := key(t)
	a := announcement(id)
	env, err := lim.SignAnnouncement(a, cids(t, 2), k)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	want, err := lim.OpenAnnouncement(env, now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // first verified, then from the cache
		got, err := c.Open(env, now)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if got.Peer != want.Peer || got.Seq != want.Seq || !bytes.Equal(got.Root, want.Root) || got.Count != want.Count ||
			got.Hash != want.Hash || !got.Expires.Equal(want.Expires) || &got.Envelope[0] != &env[0] {
			t.Fatalf("open %d = %+v, want %+v with the caller's envelope", i, got, want)
		}
	}
	if _, err := c.Open(env, a.Expires.Add(time.Second)); !errors.Is(err, protocol.ErrExpired) {
		t.Fatalf("cached envelope after its expiry: err %v, want ErrExpired", err)
	}
	forged := append([]byte(nil), env...)
	forged[len(forged)-1] ^= 1 // the signature's last byte
	if _, err := c.Open(forged, now); err == nil {
		t.Fatal("a forged copy of a cached envelope opened")
	}
	if _, err := c.Open(make([]byte, lim.MaxEnvelopeSize+1), now); !errors.Is(err, protocol.ErrMessageTooLarge) {
		t.Fatalf("oversized envelope: err %v, want ErrMessageTooLarge", err)
	}
}

// A cache hit costs a hash and a copy, not a signature check: opening a
// cached envelope is much cheaper than opening it anew (reported by
// `go test -bench AnnouncementCache ./protocol`, not asserted).
func BenchmarkAnnouncementCache(b *testing.B) {
	c, _ := protocol.NewAnnouncementCache(lim, 4)
	k, id := key(b)
	env, _ := lim.SignAnnouncement(announcement(id), cids(b, 2), k)
	now := time.Now()
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := c.Open(env, now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("uncached", func(b *testing.B) {
		for b.Loop() {
			if _, err := lim.OpenAnnouncement(env, now); err != nil {
				b.Fatal(err)
			}
		}
	})
}
