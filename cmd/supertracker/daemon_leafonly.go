//go:build leafonly

package main

import (
	"fmt"
	"io"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election/node"
)

// The leaf-only build (-tags leafonly, bin/supertracker-leaf): supernode
// and node refuse to run, naming the binary that does.

const servingBuild = false

func servingRun(role node.Role) func(args []string, stdout, stderr io.Writer) int {
	return func(_ []string, _, stderr io.Writer) int {
		fmt.Fprintf(stderr, "supertracker %s: %v\n", role, node.ErrLeafOnly)
		return 2
	}
}

func servingFlags(*cmdFlags, *daemonOpts, node.Role) {}

func (o *daemonOpts) servingConfig(*node.Config, []peer.AddrInfo, []peer.AddrInfo) error {
	return node.ErrLeafOnly
}
