package leaf

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// A leaf trusts no supernode's word: it counts its replicas from the
// replicas' signed receipts, and keeps only lookup holders whose signed
// announcement and inclusion proof verify. A lying supernode can leave a
// holder out, but cannot invent one or inflate a replica count.

// ErrUnverified: a supernode's answer did not hold up (no valid receipt for
// an accepted announcement): it is charged to that supernode.
var ErrUnverified = errors.New("leaf: supernode answer failed verification")

// countReplicas verifies the receipts of an announce answer for the
// envelope and its n CIDs and returns the replicas per CID and the target.
func (a *Agent) countReplicas(envelope []byte, n int, resp *pb.AnnounceResponse) ([]int, int, error) {
	h := sha256.Sum256(envelope)
	var rs []*protocol.Receipt
	for _, env := range resp.GetReceipts() {
		r, err := a.cfg.Limits.OpenReceipt(env)
		if err != nil || r.Announcement != h {
			continue
		}
		rs = append(rs, r)
	}
	counts := protocol.ReplicasPerCID(h, n, rs)
	stored := 0
	for _, c := range counts {
		if c > 0 {
			stored++
		}
	}
	if stored == 0 {
		return nil, 0, fmt.Errorf("%w: no valid store receipt among %d", ErrUnverified, len(resp.GetReceipts()))
	}
	return counts, int(resp.GetTarget()), nil
}

// verifiedCacheSize bounds the announcements whose checked signature the
// agent remembers (~200 B each): the holders of the objects it looked up
// lately.
const verifiedCacheSize = 1024

// verifyHolders keeps the holders of c whose signed announcement and proof
// verify, one per peer (the newest).
func (a *Agent) verifyHolders(c cid.Cid, hs []*pb.Holder) []peer.AddrInfo {
	now := a.clock.Now()
	seen := make(map[peer.ID]int)
	var out []peer.AddrInfo
	var seqs []uint64
	for _, h := range hs {
		v, err := a.verified.OpenHolder(h, c.Hash(), now)
		if err != nil {
			a.cfg.Logger.Debug("lookup answer entry rejected", "cid", c, "err", err)
			continue
		}
		if i, ok := seen[v.ID]; ok {
			if v.Seq > seqs[i] {
				out[i], seqs[i] = v.AddrInfo, v.Seq
			}
			continue
		}
		seen[v.ID] = len(out)
		out = append(out, v.AddrInfo)
		seqs = append(seqs, v.Seq)
	}
	return out
}
