//go:build leafonly

package node

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

// The leaf-only build (go build -tags leafonly; make build's
// bin/supertracker-leaf): a desktop agent's binary, which runs RoleLeaf
// and links no DHT, datastore or supernode code (serving.go is left out).
// It is smaller and lighter at rest: fewer packages initialised, fewer
// pages of the binary touched.

// SupernodeConfig and ElectionConfig are empty: the leaf-only build has no
// supernode or election.
type (
	SupernodeConfig struct{}
	ElectionConfig  struct{}
)

type serving struct{}

func (c *Config) setServingLogger() {}

func (c *Config) validateServing() error {
	return fmt.Errorf("%w: Role %q: %w", ErrInvalidConfig, c.Role, ErrLeafOnly)
}

func (n *Node) startServingHost(crypto.PrivKey) (host.Host, metrics.Reporter, error) {
	return nil, nil, ErrLeafOnly
}

func (n *Node) startServing(time.Time, metrics.Reporter) (httpapi.Backend, error) {
	return nil, ErrLeafOnly
}

func (n *Node) startRemembering() func()      { return func() {} }
func (n *Node) handOver()                     {}
func (n *Node) servingAgent() *leaf.Agent     { return nil }
func (n *Node) supernodeView() supernodeView  { return nil }
func describeServing(chan<- *prometheus.Desc) {}
