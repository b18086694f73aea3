package node

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
)

// Role is what a node process runs as.
type Role string

const (
	// RoleLeaf: a leaf agent attached to supernodes (Config.Leaf).
	RoleLeaf Role = "leaf"
	// RoleSupernode: a supernode (Config.Supernode).
	RoleSupernode Role = "supernode"
	// RoleElected: a node that elects its own role and changes it live
	// (Config.Election, whose Leaf and Supernode configure the roles).
	RoleElected Role = "node"
)

// ErrInvalidConfig is wrapped by every error of Config.Validate.
var ErrInvalidConfig = errors.New("node: invalid config")

// ErrLeafOnly: the leaf-only build (-tags leafonly, bin/supertracker-leaf)
// was asked for a role that can serve.
var ErrLeafOnly = errors.New("this binary runs leaves only (built with -tags leafonly): run supertracker for a supernode or a node")

// Config is a node process: its role's library config plus what the
// process around it needs (data dir, listen addresses, API).
type Config struct {
	// Role: leaf, supernode or node (elected).
	Role Role
	// DataDir holds the identity key, the lock, the datastore (records
	// and peerstore of a supernode), the leaf's objects and the uptime
	// history. Required.
	DataDir string
	// Listen: the libp2p listen addresses. Required.
	Listen []ma.Multiaddr
	// API: HOST:PORT of the HTTP API, the status page (/), /metrics and
	// /healthz; empty: none.
	API string
	// APIToken is required on API requests (empty: none on loopback, else
	// one generated into DATA/api.token); APIAllowHosts are accepted in the
	// Host header besides IP literals, localhost and the API's host.
	APIToken      string
	APIAllowHosts []string
	// BT: the BitTorrent bridge of a leaf or an elected node.
	BT BTConfig
	// The role's configuration: Leaf for RoleLeaf, Supernode for
	// RoleSupernode, Election for RoleElected. SupernodeConfig and
	// ElectionConfig are supernode.Config and runner.Config, except in the
	// leaf-only build (-tags leafonly), which links no supernode code.
	Leaf      leaf.Config
	Supernode SupernodeConfig
	Election  ElectionConfig
	// HandoverTimeout bounds the hand-over of leaves at Close (0: the
	// session timeout plus one heartbeat).
	HandoverTimeout time.Duration
	// AttachTimeout: how long Start waits for a leaf to attach before it
	// goes on (it keeps trying); 0: 30 s.
	AttachTimeout time.Duration
	// Firewalled refuses inbound connections (a NAT on a testnet).
	Firewalled bool
	// WrapHost, if set, wraps the host an elected node runs on (the load
	// sweep's service cap); its stop function runs at Close.
	WrapHost func(host.Host) (host.Host, func(), error)
	// Stdout receives each full listen multiaddr on its own line once the
	// host listens; nil: not printed.
	Stdout io.Writer
	// Logger receives the node's structured logs, the role's included: it
	// replaces the Logger of Leaf, Supernode and Election (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// Validate checks the process settings and the role's config; it does not
// change c.
func (c *Config) Validate() error {
	bad := func(f string, a ...any) error { return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(f, a...)) }
	switch {
	case c.DataDir == "":
		return bad("DataDir is required")
	case len(c.Listen) == 0:
		return bad("Listen needs at least one multiaddr")
	case c.HandoverTimeout < 0 || c.AttachTimeout < 0:
		return bad("HandoverTimeout and AttachTimeout must be ≥ 0")
	}
	switch c.Role {
	case RoleLeaf:
		return c.Leaf.Validate()
	case RoleSupernode, RoleElected:
		return c.validateServing()
	}
	return bad("Role %q: want leaf, supernode or node", c.Role)
}
