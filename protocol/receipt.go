package protocol

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// Receipt is a replica's signed statement "I stored the CIDs at Indices of
// the announcement whose envelope hashes to Announcement". A leaf counts
// its replicas from receipts it verified itself, so a lying supernode can
// not inflate the count.
type Receipt struct {
	Replica      peer.ID
	Announcement [32]byte
	Indices      []uint32
	At           time.Time

	limits *Limits
}

// MarshalRecord implements record.Record.
func (r *Receipt) MarshalRecord() ([]byte, error) {
	return proto.Marshal(&pb.Receipt{Replica: []byte(r.Replica), Announcement: r.Announcement[:],
		Indices: r.Indices, AtUnixMs: r.At.UnixMilli()})
}

// UnmarshalRecord implements record.Record; it enforces the limits.
func (r *Receipt) UnmarshalRecord(b []byte) error {
	l := r.limits.orDefault()
	var m pb.Receipt
	if err := proto.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%w: receipt: %v", ErrMalformed, err)
	}
	id, err := peer.IDFromBytes(m.Replica)
	if err != nil {
		return fmt.Errorf("%w: receipt replica: %v", ErrMalformed, err)
	}
	if len(m.Announcement) != sha256.Size {
		return fmt.Errorf("%w: receipt names an announcement by %d bytes", ErrMalformed, len(m.Announcement))
	}
	if len(m.Indices) > l.MaxCIDsPerAnnouncement {
		return fmt.Errorf("%w: receipt of %d CIDs (max %d)", ErrOverLimit, len(m.Indices), l.MaxCIDsPerAnnouncement)
	}
	*r = Receipt{Replica: id, Indices: m.Indices, At: time.UnixMilli(m.AtUnixMs), limits: r.limits}
	copy(r.Announcement[:], m.Announcement)
	return nil
}

// SignReceipt seals r with the replica's key.
func (l Limits) SignReceipt(r *Receipt, key crypto.PrivKey) ([]byte, error) {
	if err := checkSigningKey(key, r.Replica); err != nil {
		return nil, err
	}
	return l.seal(r, key)
}

// OpenReceipt verifies a receipt envelope: signature, and that the signer is
// the replica it names.
func (l Limits) OpenReceipt(envelope []byte) (*Receipt, error) {
	r := &Receipt{limits: &l}
	if err := l.openSignedBy("receipt", envelope, r, func() peer.ID { return r.Replica }); err != nil {
		return nil, err
	}
	r.limits = nil
	return r, nil
}

// ReadReceipt decodes a receipt envelope without checking its signature:
// for a receipt that arrived on a channel already authenticated to the
// replica (a libp2p session with it), where only what it lists matters;
// whoever relays it on checks it with OpenReceipt.
func (l Limits) ReadReceipt(envelope []byte) (*Receipt, error) {
	if len(envelope) > l.MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: receipt of %d bytes", ErrMessageTooLarge, len(envelope))
	}
	env, err := record.UnmarshalEnvelope(envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: receipt envelope: %v", ErrMalformed, err)
	}
	if !bytes.Equal(env.PayloadType, ReceiptPayloadType) {
		return nil, fmt.Errorf("%w: envelope payload type %q is not a receipt", ErrMalformed, env.PayloadType)
	}
	r := &Receipt{limits: &l}
	if err := r.UnmarshalRecord(env.RawPayload); err != nil {
		return nil, err
	}
	r.limits = nil
	return r, nil
}

// ReplicasPerCID counts, for each of the n CIDs of the announcement named
// by hash, the distinct replicas whose receipt covers it. Receipts for other
// announcements, indices out of range and repeats are ignored.
func ReplicasPerCID(hash [32]byte, n int, receipts []*Receipt) []int {
	counts := make([]int, n)
	seen := make(map[peer.ID]bool, len(receipts))
	for _, r := range receipts {
		if r == nil || r.Announcement != hash || seen[r.Replica] {
			continue
		}
		seen[r.Replica] = true
		idx := slices.Clone(r.Indices)
		slices.Sort(idx)
		for i, x := range idx {
			if int(x) < n && (i == 0 || idx[i-1] != x) {
				counts[x]++
			}
		}
	}
	return counts
}
