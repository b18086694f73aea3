package bttracker

import (
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// CodecTorrentInfo is the multicodec code "torrent-info" (0x7b): a torrent's
// bencoded info dictionary, whose SHA-1 is the v1 infohash.
const CodecTorrentInfo uint64 = 0x7b

// InfoHashToCID returns the CIDv1 naming the torrent: codec torrent-info over
// the sha1 multihash whose digest is the 20-byte infohash. Every InfoHash has
// exactly one such CID, and CIDToInfoHash inverts it.
func InfoHashToCID(h InfoHash) cid.Cid {
	// The multihash is <varint 0x11><varint 20><digest>; both varints fit in
	// one byte, so build it directly rather than go through an error path
	// that cannot fail.
	buf := make([]byte, 0, 2+len(h))
	buf = append(buf, byte(mh.SHA1), byte(len(h)))
	buf = append(buf, h[:]...)
	return cid.NewCidV1(CodecTorrentInfo, mh.Multihash(buf))
}

// CIDToInfoHash extracts the infohash from a CID made by InfoHashToCID. It
// rejects any CID that is not version 1, not codec torrent-info, or not a
// sha1 multihash with a 20-byte digest.
func CIDToInfoHash(c cid.Cid) (InfoHash, error) {
	var h InfoHash
	if !c.Defined() {
		return h, fmt.Errorf("bttracker: undefined CID")
	}
	if v := c.Version(); v != 1 {
		return h, fmt.Errorf("bttracker: CID %s: version %d, want 1", c, v)
	}
	if t := c.Type(); t != CodecTorrentInfo {
		return h, fmt.Errorf("bttracker: CID %s: codec 0x%x, want torrent-info (0x7b)", c, t)
	}
	dec, err := mh.Decode(c.Hash())
	if err != nil {
		return h, fmt.Errorf("bttracker: CID %s: %w", c, err)
	}
	if dec.Code != mh.SHA1 {
		return h, fmt.Errorf("bttracker: CID %s: multihash 0x%x, want sha1 (0x11)", c, dec.Code)
	}
	if dec.Length != len(h) || len(dec.Digest) != len(h) {
		return h, fmt.Errorf("bttracker: CID %s: digest is %d bytes, want 20", c, len(dec.Digest))
	}
	copy(h[:], dec.Digest)
	return h, nil
}
