package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
	"github.com/supertracker/supertracker/supernode"
)

// historyFile holds the uptime history in the data dir.
const historyFile = "uptime.json"

// Runner is a node that elects its own role.
type Runner struct {
	cfg   Config
	host  host.Host
	agent *leaf.Agent
	probe *probe.Server
	m     *election.Machine // owned by the loop goroutine
	hist  election.UptimeHistory
	cpu   cpuSampler

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	results chan func() // measurement and role-change results, applied by the loop

	mu          sync.Mutex
	sn          *supernode.Node // non-nil while a supernode
	changing    bool
	asking      atomic.Bool // a discovery round in flight
	heard       map[peer.ID]heardCandidate
	status      election.Status
	roleChanges int
	lastProbe   time.Time
}

// New starts a node on h: as a leaf (or cfg.ForceRole), with the election
// running. On error nothing is left running.
func New(h host.Host, cfg Config) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.roles()
	// One meter for the node: its counts survive role changes.
	meter := &traffic.Meter{}
	cfg.Leaf.Meter, cfg.Supernode.Meter = meter, meter
	now := time.Now()
	r := &Runner{cfg: cfg, host: h, results: make(chan func(), 16)}
	if err := r.loadHistory(now); err != nil {
		return nil, err
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	if cfg.Election.ID == "" {
		cfg.Election.ID = h.ID().String() // as peers' Demand.From names us
	}
	m, err := election.New(cfg.Election, now, rand.New(rand.NewPCG(seed, seed^0x5eed)))
	if err != nil {
		return nil, err
	}
	r.m = m
	agent, err := leaf.New(h, cfg.Leaf)
	if err != nil {
		return nil, err
	}
	r.agent = agent
	r.probe = probe.NewServer(h, cfg.Supernode.Limits, probe.Answers{Load: r.loadReport, Supernodes: r.trySupernodes, Candidates: r.candidacies})
	r.ctx, r.cancel = context.WithCancel(context.Background())
	if cfg.ForceRole == ForceSupernode {
		if err := r.promote(); err != nil {
			r.probe.Close()
			agent.Close()
			r.cancel()
			return nil, fmt.Errorf("runner: starting as a supernode: %w", err)
		}
		_ = r.m.Step(election.RoleChanged{Role: election.RoleSupernode, At: time.Now()})
	}
	st := r.m.Status()
	r.mu.Lock() // the probe server already answers (candidacies reads it)
	r.status = st
	r.mu.Unlock()
	r.wg.Add(1)
	go r.loop()
	return r, nil
}

// Close stops the election, the supernode service (handing leaves over
// first) and the agent. The host stays open.
func (r *Runner) Close() error {
	r.cancel()
	r.wg.Wait()
	var errs []error
	r.mu.Lock()
	sn := r.sn
	r.sn = nil
	r.mu.Unlock()
	if sn != nil {
		sn.StepDown()
		errs = append(errs, sn.Close())
	}
	r.probe.Close()
	errs = append(errs, r.agent.Close())
	r.hist.Touch(time.Now())
	errs = append(errs, r.saveHistory())
	return errors.Join(errs...)
}

// Role returns the role the node runs as now.
func (r *Runner) Role() election.Role {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sn != nil {
		return election.RoleSupernode
	}
	return election.RoleLeaf
}

// Agent returns the node's leaf agent (its objects, lookups).
func (r *Runner) Agent() *leaf.Agent { return r.agent }

// Supernode returns the supernode service, nil while a leaf.
func (r *Runner) Supernode() *supernode.Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sn
}

// Status returns the election's last status snapshot.
func (r *Runner) Status() election.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// RoleChanges counts the role changes carried out.
func (r *Runner) RoleChanges() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.roleChanges
}

func (r *Runner) loop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.Tick)
	defer t.Stop()
	tick := 0
	var last time.Time
	for {
		select {
		case <-r.ctx.Done():
			return
		case f := <-r.results:
			f()
		case <-t.C:
			tick++
			now := time.Now()
			r.checkSuspended(last, now)
			last = now
			r.observe(now, tick)
		}
		r.drain()
	}
}

// step feeds one observation; invalid ones are logged, never fatal.
func (r *Runner) step(o election.Observation) {
	if err := r.m.Step(o); err != nil {
		r.cfg.Logger.Debug("election observation refused", "err", err)
	}
}

// observe feeds the periodic measurements.
func (r *Runner) observe(now time.Time, tick int) {
	_ = r.hist.Touch(now)
	if tick%30 == 0 {
		if err := r.saveHistory(); err != nil {
			r.cfg.Logger.Warn("saving uptime history", "err", err)
		}
	}
	if u, ok := r.hist.Uptime(now); ok {
		r.step(u)
	}
	r.step(election.Resources{CPU: r.cpu.free(), Mem: memFree(), At: now})
	sn := r.Supernode()
	if sn == nil {
		if r.agent.Primary() == "" {
			// Orphaned (every supernode we knew failed, or none was ever
			// reached): ask the peers met for supernodes and candidacies.
			r.discover(nil)
		}
		loads := r.agent.Loads()
		for _, l := range loads {
			r.step(election.Demand{From: l.Peer.String(), Rho: l.Rho, Leaves: l.Leaves, MaxLeaves: l.MaxLeaves, At: now})
		}
		r.step(election.Supernodes{Reachable: len(loads), At: now})
	} else {
		st := sn.Stats()
		r.step(election.Load{Rho: st.Rho, Leaves: st.Leaves, MaxLeaves: st.MaxLeaves, At: now})
		r.step(election.Supernodes{Reachable: st.RoutingTable, At: now})
		if tick%3 == 0 {
			r.askLoads(sn)
		}
		if (st.RoutingTable == 0 && tick%2 == 0) || (st.RoutingTable < 2 && tick%5 == 0) {
			// No or few DHT peers (the others failed, or several nodes
			// promoted apart): keep looking for supernodes among the peers
			// met and the ones they know, until the routing table holds one.
			r.discover(sn)
		}
	}
	r.mu.Lock()
	probeDue := now.Sub(r.lastProbe) >= r.cfg.ProbeInterval
	if probeDue {
		r.lastProbe = now
	}
	r.mu.Unlock()
	if probeDue {
		r.measure()
	}
	r.m.Tick(now)
}

// measure runs a bandwidth probe and a dial-back against a peer: the
// primary supernode (leaf) or a routing-table peer (supernode).
func (r *Runner) measure() {
	var target peer.ID
	if sn := r.Supernode(); sn != nil {
		// Any peer can measure us: another supernode, else a leaf of ours.
		ps := sn.DHT().RoutingTable().ListPeers()
		if len(ps) == 0 {
			ps = sn.Leaves()
		}
		if len(ps) > 0 {
			target = ps[rand.IntN(len(ps))]
		}
	} else if target = r.agent.Primary(); target == "" {
		// Not attached (refused for capacity, or every supernode failed):
		// any supernode or peer met (connected peers included: in a cold
		// start nobody may have told us of anyone) can measure us.
		if ps := r.met(); len(ps) > 0 {
			target = ps[rand.IntN(len(ps))].ID
		}
	}
	if target == "" {
		r.mu.Lock()
		r.lastProbe = time.Time{} // nobody to ask: try again next tick
		r.mu.Unlock()
		return
	}
	r.background(func(ctx context.Context) func() {
		var obs []election.Observation
		rate, err := probe.MeasureUpload(ctx, r.host, target, r.cfg.Supernode.Limits, r.cfg.UploadLimit, r.cfg.ProbeBytes, r.cfg.ProbeDuration)
		if err == nil {
			obs = append(obs, election.Bandwidth{Upload: int64(rate), At: time.Now()})
		} else {
			r.cfg.Logger.Debug("bandwidth probe failed", "peer", target, "err", err)
		}
		_, err = probe.DialBack(ctx, r.host, target, r.cfg.Supernode.Limits)
		switch {
		case err == nil:
			obs = append(obs, election.Reachability{Reachable: true, VerifiedBy: target.String(), At: time.Now()})
		case errors.Is(err, probe.ErrUnreachable):
			obs = append(obs, election.Reachability{Reachable: false, VerifiedBy: target.String(), At: time.Now()})
		default:
			r.cfg.Logger.Debug("dial-back failed", "peer", target, "err", err)
		}
		return func() {
			for _, o := range obs {
				r.step(o)
			}
		}
	})
}

// background runs f off the loop; the function it returns is applied on
// the loop (so only the loop touches the machine).
func (r *Runner) background(f func(ctx context.Context) func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := context.WithTimeout(r.ctx, 30*time.Second)
		defer cancel()
		apply := f(ctx)
		select {
		case r.results <- apply:
		case <-r.ctx.Done():
		}
	}()
}

// drain carries out proposals and snapshots the status.
func (r *Runner) drain() {
	for _, d := range r.m.Ready() {
		r.cfg.Logger.Info("election", "decision", d.Kind, "target", d.Target, "reason", d.Reason)
		if !d.IsProposal() {
			continue
		}
		if r.cfg.ForceRole != ForceNone {
			r.step(election.RoleChangeFailed{Err: fmt.Errorf("role forced to %s by the operator", r.cfg.ForceRole), At: time.Now()})
			continue
		}
		r.mu.Lock()
		busy := r.changing
		r.changing = true
		r.mu.Unlock()
		if busy {
			continue
		}
		target, cause := d.Target, d.Cause
		r.background(func(context.Context) func() {
			var err error
			if target == election.RoleSupernode {
				err = r.promote()
			} else {
				err = r.demote(cause)
			}
			at := time.Now()
			return func() {
				r.mu.Lock()
				r.changing = false
				if err == nil {
					r.roleChanges++
				}
				r.mu.Unlock()
				if err != nil {
					r.cfg.Logger.Warn("role change failed", "to", target, "err", err)
					r.step(election.RoleChangeFailed{Err: err, At: at})
				} else {
					r.cfg.Logger.Info("role changed", "to", target)
					r.step(election.RoleChanged{Role: target, At: at})
				}
			}
		})
	}
	st := r.m.Status()
	r.mu.Lock()
	r.status = st
	r.mu.Unlock()
}

// promote starts the supernode service on the host and routes the node's
// own records through it.
func (r *Runner) promote() error {
	cfg := r.cfg.Supernode
	boot := map[peer.ID]peer.AddrInfo{}
	// DHT bootstrap candidates: the bootstrap and supernode addresses given,
	// the supernodes attached to, the peers met, and the supernodes those
	// know — found before serving, so this node joins the supernodes that
	// exist instead of starting a DHT of its own.
	fctx, fcancel := context.WithTimeout(r.ctx, 2*discoverWait)
	found := r.findSupernodes(fctx)
	fcancel()
	candidates := append(append(found, cfg.BootstrapPeers...), r.agent.Supernodes()...)
	candidates = append(append(candidates, r.cfg.Leaf.Supernodes...), r.met()...)
	for _, p := range candidates {
		if p.ID != r.host.ID() {
			boot[p.ID] = p
		}
	}
	cfg.BootstrapPeers = cfg.BootstrapPeers[:0:0]
	for _, p := range boot {
		cfg.BootstrapPeers = append(cfg.BootstrapPeers, p)
	}
	sn, err := supernode.New(r.host, cfg)
	if err != nil {
		return err
	}
	if len(cfg.BootstrapPeers) > 0 {
		ctx, cancel := context.WithTimeout(r.ctx, 10*time.Second)
		err := sn.Bootstrap(ctx)
		cancel()
		if err != nil && sn.DHT().RoutingTable().Size() == 0 {
			r.cfg.Logger.Warn("promoted without DHT peers yet", "err", err)
		}
	}
	r.mu.Lock()
	r.sn = sn
	r.mu.Unlock()
	r.agent.SetLocal(sn)
	return nil
}

// demote hands the attached leaves over and goes back to being a leaf.
// A node that woke from a suspension (cause "suspended") steps down at
// once: its leaves saw a dead supernode and failed over while it slept.
// Otherwise a failed hand-over does not block the step-down when the
// leaves could reach another supernode themselves (every one left); only
// leaves still attached with nowhere to go call it off.
func (r *Runner) demote(cause string) error {
	sn := r.Supernode()
	if sn == nil {
		return nil
	}
	var others []peer.AddrInfo
	for _, p := range sn.Supernodes(64) {
		if p.ID != r.host.ID() {
			others = append(others, p)
		}
	}
	if n := sn.Stats().Leaves; len(others) == 0 && n > 0 && cause != "suspended" {
		// Leaves gossip the other supernodes they attach to, and this
		// node joins them in its DHT: it knowing none means they have none.
		return fmt.Errorf("no other supernode to hand %d leaves over to", n)
	}
	sn.StepDown()
	r.agent.AddSupernodes(others...)
	r.agent.SetLocal(nil)
	if cause == "suspended" {
		return r.stopServing(sn)
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.cfg.HandoverTimeout)
	defer cancel()
	attachErr := r.agent.WaitAttached(ctx)
	// Leaves move on their next heartbeat (STEPPING_DOWN): the supernode's
	// hand-over, the same one a shutdown runs.
	_, n := sn.Drain(ctx)
	switch {
	case n == 0 && attachErr != nil:
		// Its own agent keeps looking, as any orphaned leaf does.
		r.cfg.Logger.Warn("stepping down before attaching elsewhere: every leaf left", "others_known", len(others), "err", attachErr)
	case n > 0 && attachErr != nil:
		r.agent.SetLocal(sn)
		sn.Resume()
		return fmt.Errorf("attaching elsewhere, %d leaves still attached: %w", n, attachErr)
	case n > 0:
		r.cfg.Logger.Warn("stepping down with leaves still attached", "leaves", n)
	}
	return r.stopServing(sn)
}

// stopServing ends the supernode service: the node is a leaf from here.
func (r *Runner) stopServing(sn *supernode.Node) error {
	r.mu.Lock()
	r.sn = nil
	r.mu.Unlock()
	return sn.Close()
}

// trySupernodes answers load probes with the supernodes this node knows:
// itself and its DHT peers while a supernode, else the ones it is attached
// to or learned of (X-Try-Ultrapeers).
func (r *Runner) trySupernodes() []peer.AddrInfo {
	if sn := r.Supernode(); sn != nil {
		return sn.Supernodes(16)
	}
	ss := r.agent.Supernodes()
	return ss[:min(len(ss), 16)]
}

// loadReport answers load probes: the supernode's load, nil while a leaf.
func (r *Runner) loadReport() *pb.Load {
	sn := r.Supernode()
	if sn == nil {
		return nil
	}
	st := sn.Stats()
	el := r.Status()
	return &pb.Load{Leaves: uint32(st.Leaves), MaxLeaves: uint32(st.MaxLeaves), Rho: st.Rho,
		ArrivalRate: st.Arrival, ServiceRate: st.Service, Supernodes: uint32(st.RoutingTable + 1),
		Leaving: el.Leaving, Score: el.Score}
}

func (r *Runner) loadHistory(now time.Time) error {
	if r.cfg.DataDir != "" {
		b, err := os.ReadFile(filepath.Join(r.cfg.DataDir, historyFile))
		switch {
		case err == nil:
			h, err := election.UnmarshalHistory(b)
			if err != nil {
				r.cfg.Logger.Warn("uptime history unreadable; starting a new one", "err", err)
			} else {
				r.hist = h
			}
		case !os.IsNotExist(err):
			return fmt.Errorf("runner: reading uptime history: %w", err)
		}
	}
	if err := r.hist.Begin(now); err != nil {
		r.hist = election.UptimeHistory{}
		_ = r.hist.Begin(now)
	}
	return r.saveHistory()
}

func (r *Runner) saveHistory() error {
	if r.cfg.DataDir == "" {
		return nil
	}
	b, err := json.Marshal(r.hist)
	if err != nil {
		return err
	}
	path := filepath.Join(r.cfg.DataDir, historyFile)
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
