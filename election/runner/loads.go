package runner

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/supernode"
)

// loadSample: how many other supernodes askLoads queries per round. The
// surplus decision and the demotion order read the peers that answered
// within ReportTTL, so a sample this size covers a testnet's supernodes and
// ranks a node among a fair share of a large overlay's.
const loadSample = 8

// loadWait bounds one supernode's answer to a load query. A supernode that
// does not answer in time is taken out of the routing table: a stopped or
// sleeping process keeps its TCP connections open, so without this every
// DHT query (every lookup) would wait for it until its own timeout. kad
// adds it back as soon as it answers a query again.
const loadWait = 2 * time.Second

// askLoads queries other supernodes' load in the background, in parallel:
// the demand signal between supernodes, their scores and Leaving flags.
func (r *Runner) askLoads(sn *supernode.Node) {
	peers := sn.DHT().RoutingTable().ListPeers()
	rand.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	peers = peers[:min(loadSample, len(peers))]
	r.background(func(ctx context.Context) func() {
		var (
			mu  sync.Mutex
			obs []election.Observation
			wg  sync.WaitGroup
		)
		for _, p := range peers {
			wg.Go(func() {
				qctx, cancel := context.WithTimeout(ctx, loadWait)
				defer cancel()
				l, err := probe.QueryLoad(qctx, r.host, p, r.cfg.Supernode.Limits)
				switch {
				case err != nil && qctx.Err() != nil && ctx.Err() == nil:
					r.evict(sn, p, err)
				case err != nil:
					r.cfg.Logger.Debug("load query failed", "peer", p, "err", err)
				case l != nil:
					mu.Lock()
					obs = append(obs, election.Demand{From: p.String(), Rho: l.GetRho(), Leaves: int(l.GetLeaves()), MaxLeaves: int(l.GetMaxLeaves()),
						Leaving: l.GetLeaving(), Score: l.GetScore(), At: time.Now()})
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return func() {
			for _, o := range obs {
				r.step(o)
			}
		}
	})
}

// evict takes a supernode that did not answer within loadWait out of the
// DHT routing table.
func (r *Runner) evict(sn *supernode.Node, p peer.ID, err error) {
	sn.DHT().RoutingTable().RemovePeer(p)
	r.cfg.Logger.Info("supernode unresponsive: out of the routing table", "peer", p, "wait", loadWait, "err", err)
}
