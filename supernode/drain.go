package supernode

import (
	"context"
	"time"

	"github.com/supertracker/supertracker/protocol"
)

// drainPoll is how often Drain counts the leaves still attached.
const drainPoll = 50 * time.Millisecond

// Drain hands the attached leaves over to other supernodes: it steps down
// (StepDown: every leaf request is answered STEPPING_DOWN, so each leaf
// moves to a backup on its next heartbeat) and waits until no leaf has a
// leaf-protocol stream open to this host, or ctx ends. It returns at once
// when the membership view holds no other supernode: the leaves have
// nowhere to go. It returns how many leaves were attached when it started
// and how many still are. A leaf told to go closes its stream (one that
// died loses its connection) while its session lingers until it times out,
// so a leaf counts as gone once no stream of it is open.
//
// The one hand-over of a supernode: a graceful shutdown (SIGTERM) and the
// election's demotion both call it. Resume undoes the step-down; Close ends
// the service.
func (n *Node) Drain(ctx context.Context) (attached, remaining int) {
	if !n.steppingDown() {
		n.StepDown()
	}
	attached = n.leavesWithStreams()
	if attached == 0 {
		return 0, 0
	}
	if len(n.Supernodes(2)) < 2 {
		n.cfg.Logger.Info("no other supernode known: leaves cannot be handed over", "leaves", attached)
		return attached, attached
	}
	start := time.Now()
	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for remaining = attached; remaining > 0; remaining = n.leavesWithStreams() {
		select {
		case <-ctx.Done():
			n.cfg.Logger.Info("hand-over timed out", "leaves", attached, "still_attached", remaining)
			return attached, remaining
		case <-tick.C:
		}
	}
	n.cfg.Logger.Info("leaves handed over", "leaves", attached, "took", time.Since(start).Round(time.Millisecond))
	return attached, 0
}

// leavesWithStreams counts the leaves that still have a leaf-protocol
// stream open to this host.
func (n *Node) leavesWithStreams() int {
	count := 0
	for _, p := range n.Leaves() {
	conns:
		for _, c := range n.host.Network().ConnsToPeer(p) {
			for _, s := range c.GetStreams() {
				if s.Protocol() == protocol.LeafProtocol {
					count++
					break conns
				}
			}
		}
	}
	return count
}
