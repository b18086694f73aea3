package bttracker

import (
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

func TestInfoHashCIDRoundTrip(t *testing.T) {
	for _, h := range []InfoHash{{}, ih(1), ih(0xec)} {
		c := InfoHashToCID(h)
		p := c.Prefix()
		if p.Version != 1 || p.Codec != 0x7b || p.MhType != mh.SHA1 || p.MhLength != 20 {
			t.Fatalf("prefix %+v", p)
		}
		// Through the string form and back.
		c2, err := cid.Decode(c.String())
		if err != nil || !c2.Equals(c) {
			t.Fatalf("decode %s: %v", c, err)
		}
		got, err := CIDToInfoHash(c2)
		if err != nil || got != h {
			t.Fatalf("CIDToInfoHash(%s) = %x, %v; want %x", c, got, err, h)
		}
		// The digest is the infohash itself, not a hash of it.
		dec, _ := mh.Decode(c.Hash())
		if string(dec.Digest) != string(h[:]) {
			t.Fatalf("digest %x", dec.Digest)
		}
	}
	// Matches building the same CID with the libraries' general API.
	h := ih(9)
	m, err := mh.Encode(h[:], mh.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	if want := cid.NewCidV1(0x7b, m); !InfoHashToCID(h).Equals(want) {
		t.Fatalf("got %s want %s", InfoHashToCID(h), want)
	}
}

func TestCIDToInfoHashRejects(t *testing.T) {
	h := ih(5)
	sha1mh, _ := mh.Encode(h[:], mh.SHA1)
	sha256mh, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	shortSHA1, _ := mh.Sum([]byte("x"), mh.SHA1, 10)
	cases := map[string]cid.Cid{
		"undefined":    cid.Undef,
		"v0":           cid.NewCidV0(sha256mh),
		"raw codec":    cid.NewCidV1(cid.Raw, sha1mh),
		"sha256":       cid.NewCidV1(0x7b, sha256mh),
		"short digest": cid.NewCidV1(0x7b, shortSHA1),
		"dag-pb sha1":  cid.NewCidV1(cid.DagProtobuf, sha1mh),
	}
	for name, c := range cases {
		if got, err := CIDToInfoHash(c); err == nil {
			t.Errorf("%s: accepted, got %x", name, got)
		}
	}
}

func TestParseInfoHash(t *testing.T) {
	h := ih(0xab)
	got, err := ParseInfoHash(h.String())
	if err != nil || got != h {
		t.Fatalf("%x %v", got, err)
	}
	for _, s := range []string{"", "abc", h.String() + "00", "zz" + h.String()[2:]} {
		if _, err := ParseInfoHash(s); err == nil {
			t.Errorf("ParseInfoHash(%q) accepted", s)
		}
	}
	if EventStopped.String() != "stopped" || Event(9).String() != "Event(9)" {
		t.Error("Event.String")
	}
}
