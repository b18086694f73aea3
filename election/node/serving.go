//go:build !leafonly

package node

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/election/runner"
	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
	"github.com/supertracker/supertracker/supernode"
	"github.com/supertracker/supertracker/supernode/persist"
)

// The roles that can serve: a supernode, or a node that elects its role.
// The leaf-only build (-tags leafonly, leafonly.go) replaces this file, so
// that a leaf's binary links no DHT, datastore or supernode code.

// SupernodeConfig configures RoleSupernode.
type SupernodeConfig = supernode.Config

// ElectionConfig configures RoleElected.
type ElectionConfig = runner.Config

// rememberInterval: how often a supernode writes the supernodes it knows
// to its peerstore, so that a crash leaves a recent list too.
const rememberInterval = time.Minute

// serving is what a node of a role that can serve runs besides the host.
type serving struct {
	sn      *supernode.Node // RoleSupernode
	runner  *runner.Runner  // RoleElected
	durable *persist.Durable
}

func (c *Config) setServingLogger() {
	c.Supernode.Logger, c.Election.Logger = c.Logger, c.Logger
}

func (c *Config) validateServing() error {
	if c.Role == RoleSupernode {
		return c.Supernode.Validate()
	}
	return c.Election.Validate()
}

// roleSupernode is the supernode configuration of a role that can serve.
func (c *Config) roleSupernode() *supernode.Config {
	if c.Role == RoleElected {
		return &c.Election.Supernode
	}
	return &c.Supernode
}

// startServingHost opens the durable datastore and starts the host of a
// role that can serve.
func (n *Node) startServingHost(key crypto.PrivKey) (host.Host, metrics.Reporter, error) {
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	// The datastore outlives role changes: opened here, handed to every
	// supernode service a promotion starts, closed last.
	snCfg := n.cfg.roleSupernode()
	if n.durable, err = persist.Open(n.cfg.DataDir, self, snCfg.RecordTTL, n.log); err != nil {
		return nil, nil, err
	}
	n.defer_(func() { n.durable.Store.Close() })
	snCfg.Datastore = n.durable.Store
	snCfg.BootstrapPeers = persist.MergePeers(snCfg.BootstrapPeers, n.durable.Known)
	extra := []libp2p.Option{libp2p.Peerstore(n.durable.Peerstore)}
	if n.cfg.Firewalled {
		extra = append(extra, libp2p.ConnectionGater(inboundRefused{}))
	}
	h, bw, err := newHost(key, n.cfg.Listen, extra...)
	if err != nil {
		n.durable.Peerstore.Close()
	}
	return h, bw, err
}

// startServing starts the supernode or the runner on the host.
func (n *Node) startServing(started time.Time, bw metrics.Reporter) (httpapi.Backend, error) {
	if n.cfg.Role == RoleSupernode {
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

// startRemembering writes the supernodes a serving node knows to its
// peerstore every rememberInterval.
func (n *Node) startRemembering() func() {
	return persist.StartRemembering(n.host, n.Supernode, rememberInterval)
}

// handOver: a supernode hands its leaves over (at most cfg.HandoverTimeout)
// and remembers the supernodes it knows.
func (n *Node) handOver() {
	sn := n.Supernode()
	if sn == nil {
		return
	}
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

// servingAgent is an elected node's leaf agent (nil for the other roles).
func (n *Node) servingAgent() *leaf.Agent {
	if n.runner != nil {
		return n.runner.Agent()
	}
	return nil
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

// supernodeView is the supernode service as the status page, /metrics and
// FindPeer read it; nil while the node is not one.
func (n *Node) supernodeView() supernodeView {
	if sn := n.Supernode(); sn != nil {
		return snView{sn}
	}
	return nil
}

// snView is a supernode.Node as a supernodeView.
type snView struct{ sn *supernode.Node }

func (v snView) fillPage(d *statusPageData) {
	s := v.sn.Stats()
	d.Supernode = true
	d.LeafCount, d.MaxLeaves, d.Records, d.RecordLeaves, d.RoutingTable = s.Leaves, s.MaxLeaves, s.Records, s.RecordLeaves, s.RoutingTable
	d.Rho, d.ReqPerSec = s.Rho, s.Arrival
	for _, p := range v.sn.Leaves() {
		d.Leaves = append(d.Leaves, p.String())
	}
	sort.Strings(d.Leaves)
}

func (v snView) collect(ch chan<- prometheus.Metric) {
	supernode.Collector{Current: func() *supernode.Node { return v.sn }}.Collect(ch)
}

func (v snView) findPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	ai, err := v.sn.DHT().FindPeer(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("%w: %w", routing.ErrNotFound, err)
	}
	return ai, nil
}

// describeServing describes the supernode's metrics.
func describeServing(ch chan<- *prometheus.Desc) { supernode.Collector{}.Describe(ch) }
