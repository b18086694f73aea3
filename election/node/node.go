package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"

	"github.com/supertracker/supertracker/election"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/protocol/identity"
)

// Node is a running node process: a libp2p host on its data dir's
// identity, the role (leaf agent, supernode or elected runner), the durable
// datastore of a role that can serve, and the HTTP API with the status
// page, /metrics and /healthz.
type Node struct {
	cfg     Config
	log     *slog.Logger
	host    host.Host
	view    *opsView
	agent   *leaf.Agent // RoleLeaf
	serving             // RoleSupernode, RoleElected (serving.go; empty in the leaf-only build)
	apiAddr string      // where the API listens

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
	cfg.Leaf.Logger = cfg.Logger
	cfg.setServingLogger()
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
		n.host, bw, err = n.startServingHost(key)
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
	n.view = newOpsView(backend, n.supernodeView, n.Agent)
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
		n.defer_(n.startRemembering())
	}
	n.log.Info(string(cfg.Role)+" running", "peer", n.host.ID(), "role", n.Role().String())
	return n, nil
}

// startRole starts the leaf agent, or the supernode or the runner
// (serving.go), on the host.
func (n *Node) startRole(bw metrics.Reporter) (httpapi.Backend, error) {
	started := time.Now()
	if n.cfg.Role != RoleLeaf {
		return n.startServing(started, bw)
	}
	agent, err := leaf.New(n.host, n.cfg.Leaf)
	if err != nil {
		return nil, err
	}
	n.agent = agent
	n.defer_(func() { agent.Close() }) // detaches from every supernode
	return &leaf.APIBackend{Agent: agent, Started: started, Bandwidth: bw}, nil
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
	n.handOver()
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
	if a := n.servingAgent(); a != nil {
		return a
	}
	return n.agent
}

// Role returns the role the node serves now.
func (n *Node) Role() election.Role {
	if n.supernodeView() != nil {
		return election.RoleSupernode
	}
	return election.RoleLeaf
}
