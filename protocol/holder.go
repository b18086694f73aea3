package protocol

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Holder is a verified lookup answer entry: a peer that signed that it
// holds CID, reachable at Addrs, until Expires.
type Holder struct {
	peer.AddrInfo
	CID     cid.Cid
	Seq     uint64
	Expires time.Time
}

// HolderToPB is the wire form of a holder: its signed announcement and the
// inclusion proof of c at index.
func HolderToPB(envelope []byte, c cid.Cid, index int, proof [][]byte) *pb.Holder {
	return &pb.Holder{Announcement: envelope, Cid: c.Bytes(), Index: uint32(index), Proof: proof}
}

// OpenHolder verifies a lookup answer entry for the multihash key at now:
// the announcement's signature and expiry, that it is not a withdrawal, and
// that the CID (whose multihash must be key) is in it. A supernode can leave
// a holder out of an answer but cannot make one up.
func (l Limits) OpenHolder(h *pb.Holder, key []byte, now time.Time) (Holder, error) {
	return l.openHolder(h, key, now, l.OpenAnnouncement)
}

// openHolder is OpenHolder with the announcement opened by open
// (Limits.OpenAnnouncement, or an AnnouncementCache's Open).
func (l Limits) openHolder(h *pb.Holder, key []byte, now time.Time, open func([]byte, time.Time) (*SignedAnnouncement, error)) (Holder, error) {
	if h == nil {
		return Holder{}, fmt.Errorf("%w: missing holder", ErrMalformed)
	}
	if len(h.Proof) > l.MaxProofLen() {
		return Holder{}, fmt.Errorf("%w: proof of %d hashes (max %d)", ErrOverLimit, len(h.Proof), l.MaxProofLen())
	}
	c, err := l.CIDFromBytes(h.Cid)
	if err != nil {
		return Holder{}, fmt.Errorf("holder: %w", err)
	}
	if !bytes.Equal(c.Hash(), key) {
		return Holder{}, fmt.Errorf("%w: holder of %s answers another multihash", ErrBadProof, c)
	}
	s, err := open(h.Announcement, now)
	if err != nil {
		return Holder{}, fmt.Errorf("holder: %w", err)
	}
	if s.Withdraw {
		return Holder{}, fmt.Errorf("%w: holder %s withdrew %s", ErrBadProof, s.Peer, c)
	}
	if err := VerifyCIDProof(s.Root, s.Count, int(h.Index), c, h.Proof); err != nil {
		return Holder{}, fmt.Errorf("holder %s: %w", s.Peer, err)
	}
	return Holder{AddrInfo: peer.AddrInfo{ID: s.Peer, Addrs: s.Addrs}, CID: c, Seq: s.Seq, Expires: s.Expires}, nil
}
