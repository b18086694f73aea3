package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/protocol/identity"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/supernode/persist"
)

// rememberInterval: how often a supernode writes the supernodes it knows
// to its peerstore, so that a crash leaves a recent list too.
const rememberInterval = time.Minute

// Node is a running node process: a libp2p host on its data dir's
// identity, the role (leaf agent, supernode or elected runner), the durable
// datastore of a role that can serve, and the HTTP API with the status
// page, /metrics and /healthz.
type Node struct {
	cfg     Config
	log     *slog.Logger
	host    host.Host
	view    *opsView
	agent   *leaf.Agent     // RoleLeaf
	sn      *supernode.Node // RoleSupernode
	runner  *runner.Runner  // RoleElected
	durable *persist.Durable
	apiAddr string // where the API listens

	closers []func() // run in reverse order by Close
}

// Start runs a node: it locks the data dir, loads the identity, opens the
// datastore (supernode, node), starts the host and the role, prints the
// listen addresses to cfg.Stdout, serves the API, waits up to
// cfg.AttachTimeout (or until ctx ends) for a leaf to attach, and starts
// the BitTorrent bridge. On error nothing is left running. Close stops it.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Leaf.Logger, cfg.Supernode.Logger, cfg.Election.Logger = cfg.Logger, cfg.Logger, cfg.Logger
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, log: cfg.Logger}
	defer func() {
		if err != nil {
			n.closeAll()
		}
	}()
	unlock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n.defer_(unlock)
	key, err := identity.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	var bw metrics.Reporter
	if cfg.Role == RoleLeaf {
		n.host, bw, err = newLeafHost(key, cfg.Listen)
	} else {
		self, perr := peer.IDFromPrivateKey(key)
		if perr != nil {
			return nil, perr
		}
		// The datastore outlives role changes: opened here, handed to
		// every supernode service a promotion starts, closed last.
		snCfg := n.cfg.roleSupernode()
		if n.durable, err = persist.Open(cfg.DataDir, self, snCfg.RecordTTL, n.log); err != nil {
			return nil, err
		}
		n.defer_(func() { n.durable.Store.Close() })
		snCfg.Datastore = n.durable.Store
		snCfg.BootstrapPeers = persist.MergePeers(snCfg.BootstrapPeers, n.durable.Known)
		extra := []libp2p.Option{libp2p.Peerstore(n.durable.Peerstore)}
		if cfg.Firewalled {
			extra = append(extra, libp2p.ConnectionGater(inboundRefused{}))
		}
		if n.host, bw, err = newHost(key, cfg.Listen, extra...); err != nil {
			n.durable.Peerstore.Close()
		}
	}
	if err != nil {
		return nil, err
	}
	n.defer_(func() { n.host.Close() })
	backend, err := n.startRole(bw)
	if err != nil {
		return nil, err
	}
	if cfg.Stdout != nil {
		for _, a := range n.host.Addrs() {
			fmt.Fprintf(cfg.Stdout, "%s/p2p/%s\n", a, n.host.ID())
		}
	}
	n.view = newOpsView(backend, n.Supernode, n.Agent)
	if cfg.API != "" {
		guard, err := GuardFor(cfg.API, cfg.DataDir, cfg.APIToken, cfg.APIAllowHosts, n.log)
		if err != nil {
			return nil, err
		}
		addr, stopAPI, err := serveAPI(cfg.API, n.view.handler(guard), n.log)
		if err != nil {
			return nil, err
		}
		n.apiAddr = addr
		n.defer_(stopAPI)
	}
	if cfg.Role == RoleLeaf {
		timeout := cfg.AttachTimeout
		if timeout == 0 {
			timeout = 30 * time.Second
		}
		actx, cancel := context.WithTimeout(ctx, timeout)
		if err := n.agent.WaitAttached(actx); err != nil {
			n.log.Warn("not attached yet; still trying", "err", err)
		}
		cancel()
	}
	if agent := n.Agent(); agent != nil {
		stopBT, err := startBTBridge(cfg.BT, agent, n.view, n.log)
		if err != nil {
			return nil, err
		}
		n.defer_(stopBT)
	} else if cfg.BT.Listen != "" {
		return nil, errors.New("--bt-listen needs a leaf or a node")
	}
	if cfg.Role != RoleLeaf {
		n.defer_(persist.StartRemembering(n.host, n.Supernode, rememberInterval))
	}
	n.log.Info(string(cfg.Role)+" running", "peer", n.host.ID(), "role", n.Role().String())
	return n, nil
}

// startRole starts the leaf agent, the supernode or the runner on the host.
func (n *Node) startRole(bw metrics.Reporter) (httpapi.Backend, error) {
	started := time.Now()
	switch n.cfg.Role {
	case RoleLeaf:
		agent, err := leaf.New(n.host, n.cfg.Leaf)
		if err != nil {
			return nil, err
		}
		n.agent = agent
		n.defer_(func() { agent.Close() }) // detaches from every supernode
		return &leaf.APIBackend{Agent: agent, Started: started, Bandwidth: bw}, nil
	case RoleSupernode:
		c := n.cfg.Supernode
		sn, err := supernode.New(n.host, c)
		if err != nil {
			return nil, err
		}
		n.sn = sn
		n.defer_(func() {
			if err := sn.Close(); err != nil {
				n.log.Warn("closing the supernode", "err", err)
			}
		})
		// Dial-back and bandwidth probes for the leaves (a leaf behind a
		// NAT learns from the dial-back that it needs relay slots).
		probes := probe.NewServer(n.host, c.Limits, probe.Answers{})
		n.defer_(probes.Close)
		return &supernode.APIBackend{Node: sn, Started: started, Bandwidth: bw}, nil
	}
	nodeHost := n.host
	if n.cfg.WrapHost != nil {
		h, stop, err := n.cfg.WrapHost(n.host)
		if err != nil {
			return nil, err
		}
		n.defer_(stop)
		nodeHost = h
	}
	r, err := runner.New(nodeHost, n.cfg.Election)
	if err != nil {
		return nil, err
	}
	n.runner = r
	n.defer_(func() {
		if err := r.Close(); err != nil { // detaches the agent, saves the uptime history
			n.log.Warn("closing the node", "err", err)
		}
	})
	return r.API(started, bw), nil
}

// defer_ registers f to run at Close, before everything registered earlier.
func (n *Node) defer_(f func()) { n.closers = append(n.closers, f) }

func (n *Node) closeAll() {
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
	n.closers = nil
}

// Close stops the node gracefully: /healthz answers 503, a supernode hands
// its leaves over (supernode.Node.Drain, at most cfg.HandoverTimeout) and
// remembers the supernodes it knows; then the bridge, the API, the role,
// the host and the datastore stop, and the data dir is unlocked.
func (n *Node) Close() error {
	n.view.stopping.Store(true)
	if sn := n.Supernode(); sn != nil {
		timeout := n.cfg.HandoverTimeout
		if timeout == 0 {
			c := n.cfg.roleSupernode()
			timeout = c.SessionTimeout + c.HeartbeatInterval
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		sn.Drain(ctx)
		cancel()
		persist.Remember(n.host, sn)
	}
	n.closeAll()
	n.log.Info(string(n.cfg.Role) + " stopped")
	return nil
}

// APIAddr returns the HOST:PORT the API listens on ("" without one).
func (n *Node) APIAddr() string { return n.apiAddr }

// Host returns the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// Agent returns the leaf agent: a leaf's, or an elected node's (whatever
// its role); nil for a supernode.
func (n *Node) Agent() *leaf.Agent {
	if n.runner != nil {
		return n.runner.Agent()
	}
	return n.agent
}

// Supernode returns the supernode service while the node is one, else nil.
func (n *Node) Supernode() *supernode.Node {
	if n.runner != nil {
		return n.runner.Supernode()
	}
	return n.sn
}

// Runner returns an elected node's runner (nil for the other roles).
func (n *Node) Runner() *runner.Runner { return n.runner }

// Role returns the role the node serves now.
func (n *Node) Role() election.Role {
	if n.Supernode() != nil {
		return election.RoleSupernode
	}
	return election.RoleLeaf
}
