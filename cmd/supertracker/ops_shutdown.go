package main

import (
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
)

// handOver makes sn answer STEPPING_DOWN so that its leaves move to other
// supernodes, and waits (at most timeout) until every one has gone. A leaf
// told to go closes its leaf-protocol stream (one that died loses its
// connection), while its session lingers until it times out: so a leaf
// counts as gone once no leaf stream of it is open.
func handOver(h host.Host, sn *supernode.Node, timeout time.Duration, log interface {
	Info(string, ...any)
}) {
	sn.StepDown()
	n := leavesWithStreams(h, sn)
	if n == 0 {
		return
	}
	if len(sn.Supernodes(2)) < 2 {
		log.Info("no other supernode known: leaves cannot be handed over", "leaves", n)
		return
	}
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for leavesWithStreams(h, sn) > 0 {
		select {
		case <-deadline.C:
			log.Info("hand-over timed out", "leaves", n, "still_attached", leavesWithStreams(h, sn), "timeout", timeout)
			return
		case <-tick.C:
		}
	}
	log.Info("leaves handed over", "leaves", n, "took", time.Since(start).Round(time.Millisecond))
}

// leavesWithStreams counts sn's leaves that still have a leaf-protocol stream
// open to this host.
func leavesWithStreams(h host.Host, sn *supernode.Node) int {
	n := 0
	for _, p := range sn.Leaves() {
	conns:
		for _, c := range h.Network().ConnsToPeer(p) {
			for _, s := range c.GetStreams() {
				if s.Protocol() == protocol.LeafProtocol {
					n++
					break conns
				}
			}
		}
	}
	return n
}
