package supernode_test

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
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
