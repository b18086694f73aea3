package supernode_test

import (
	"fmt"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/testnet/inproc"
)

func holderSet(ais []peer.AddrInfo) map[peer.ID]bool {
	m := make(map[peer.ID]bool, len(ais))
	for _, ai := range ais {
		m[ai.ID] = true
	}
	return m
}

func sameSet(got map[peer.ID]bool, want []peer.ID) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d holders, want %d", len(got), len(want))
	}
	for _, w := range want {
		if !got[w] {
			return fmt.Errorf("holder %s missing", w)
		}
	}
	return nil
}

// startWithLeaf starts n supernodes storing each record r times and one
// leaf attached to the first; it returns the supernodes, their addresses
// and the leaf.
func startWithLeaf(t *testing.T, n, r int, tweaks ...func(*leaf.Config)) ([]*supernode.Node, []peer.AddrInfo, *leaf.Agent) {
	t.Helper()
	cfg := inproc.SupernodeConfig()
	cfg.ReplicationFactor = r
	sns := inproc.StartSupernodes(t, n, cfg)
	infos := inproc.Infos(sns)
	lc := inproc.LeafConfig(infos[:1])
	for _, f := range tweaks {
		f(&lc)
	}
	return sns, infos, inproc.StartLeaf(t, lc)
}

// noBackups attaches a leaf to its primary only: the other supernodes have
// no connection to it, so they dial whatever addresses they are told it has.
func noBackups(c *leaf.Config) { c.Backups = 0 }
