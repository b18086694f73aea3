package runner

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/supernode"
)

// loadSample: how many other supernodes askLoads queries per round. The
// surplus decision and the demotion order read the peers that answered
// within ReportTTL, so a sample this size covers a testnet's supernodes and
// ranks a node among a fair share of a large overlay's.
const loadSample = 8

// loadWait bounds one supernode's answer to a load query: the queries go
// out in parallel, so a stopped or sleeping supernode (its TCP connections
// stay open) delays a round by loadWait, not the background deadline.
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
