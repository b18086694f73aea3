package attack

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
)

// Leaf-slot exhaustion: throwaway identities from one network prefix
// attach to a supernode until it is full. With the Internet defaults for
// leaf slots (MaxLeavesPerPrefix 32 of MaxLeaves 200), the prefix gets at
// most its share and a leaf from elsewhere still attaches.

// RunSlotExhaustion runs it with identities attackers from one /32.
func RunSlotExhaustion(ctx context.Context, identities int) Row {
	name := fmt.Sprintf("leaf-slot exhaustion: %d identities from one /32 attach to a supernode", identities)
	r, err := runSlots(ctx, identities)
	if err != nil {
		r = Failed(4, name, err)
	}
	r.Point, r.Attack = 4, name
	return r
}

func runSlots(ctx context.Context, identities int) (Row, error) {
	lab := NewLab()
	defer lab.Close()
	cfg := SupernodeConfig(1)
	def := supernode.DefaultConfig()
	cfg.MaxLeaves, cfg.MaxLeavesPerPrefix = def.MaxLeaves, def.MaxLeavesPerPrefix
	sns, err := lab.Supernodes(ctx, 1, cfg)
	if err != nil {
		return Row{}, err
	}
	sn := sns[0].AddrInfo()
	ip := FreshIP()
	taken := 0
	for range identities {
		h, err := lab.HostAt(ip, nil)
		if err != nil {
			return Row{}, err
		}
		lc, err := DialLeaf(ctx, h, sn)
		if err != nil {
			return Row{}, err
		}
		resp, err := lc.Attach()
		if err != nil {
			return Row{}, err
		}
		if resp.Status == pb.Status_OK {
			taken++
		}
		// the stream stays open: the session lives until its timeout
	}
	honest, err := lab.Leaf(ctx, LeafConfig([]peer.AddrInfo{sn}))
	attached := err == nil && honest.Primary() == sn.ID
	out := fmt.Sprintf("the prefix took %d of %d slots (per-prefix cap %d); a leaf from another prefix attached: %v",
		taken, cfg.MaxLeaves, cfg.MaxLeavesPerPrefix, attached)
	return Row{Attempts: identities, Unit: "attaches", Successes: taken, Outcome: out,
		Bound: fmt.Sprintf("≤ %d slots, honest leaf attaches", cfg.MaxLeavesPerPrefix),
		Pass:  taken <= cfg.MaxLeavesPerPrefix && attached}, nil
}
