package recordstore

import (
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// Records written before origins existed (version 1) are still read, with
// no origin; version 2 keeps both origins.
func TestRecordEncodingReadsVersion1(t *testing.T) {
	h, _ := mh.Sum([]byte("x"), mh.SHA2_256, -1)
	r := &Record{Key: h, Leaf: peer.ID("leaf"), CID: cid.NewCidV1(cid.Raw, h), Seq: 7,
		Expires: time.UnixMilli(1_800_000_000_000), Index: 3, Proof: [][]byte{make([]byte, 32)},
		Origin: Origin{Via: []byte{24, 192, 0, 2, 0}, Leaf: []byte{32, 198, 51, 100, 7}}}
	v2 := encodeRecord(r)
	got, err := decodeRecord(r.Key, r.Leaf, v2)
	if err != nil || got.Seq != 7 || got.Index != 3 || len(got.Proof) != 1 ||
		string(got.Origin.Via) != string(r.Origin.Via) || string(got.Origin.Leaf) != string(r.Origin.Leaf) {
		t.Fatalf("version 2: %+v, %v", got, err)
	}
	// Version 1: the same bytes without the two origins.
	v1 := append([]byte{recordVersionV1}, v2[1:len(v2)-len(r.Origin.Via)-len(r.Origin.Leaf)-2]...)
	got, err = decodeRecord(r.Key, r.Leaf, v1)
	if err != nil || got.Seq != 7 || len(got.Proof) != 1 || got.Origin.Via != nil || got.Origin.Leaf != nil {
		t.Fatalf("version 1: %+v, %v", got, err)
	}
	// A bad origin is a corrupt record, not a panic.
	bad := append(v2[:len(v2)-len(r.Origin.Leaf)-1:len(v2)-len(r.Origin.Leaf)-1], 3, 1, 2, 3)
	if _, err := decodeRecord(r.Key, r.Leaf, bad); err == nil {
		t.Fatal("a 3-byte origin was read")
	}
}
