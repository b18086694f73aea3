package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/cmd/internal/layered"
	"github.com/supertracker/supertracker/election/node"
	"github.com/supertracker/supertracker/leaf"
)

// daemonOpts are the flags of the daemon commands (supernode, leaf, node);
// a flag a role does not have stays nil.
type daemonOpts struct {
	role                                              node.Role
	listen, data, api, logLevel, preset, token, hosts *string
	handover                                          *time.Duration
	sns, relay                                        *string // leaf, node
	backups                                           *int
	bt                                                node.BTConfig
	boot                                              *string // supernode, node
	recordTTL, relayDuration                          *time.Duration
	maxLeaves, relayBytes                             *int
	repl, maxRecords                                  *int // supernode
	rps                                               *float64
	local                                             *bool
	sessionTimeout, heartbeat, hedgeFloor             *time.Duration // supernode; leaf
	elect, bwLimit, minUpload                         *string        // node
	minUptime, minAvg, dwell, window                  *time.Duration
	firewalled                                        *bool
	seed                                              *uint64
	serviceRate                                       *float64
	serviceQueue                                      *int
}

// daemonFlags defines the flags of a daemon command. Flags shared by roles
// are defined once; a node's threshold flags default to 0: "the preset's".
func daemonFlags(role node.Role, stderr io.Writer) (*cmdFlags, *daemonOpts) {
	fs := newCmdFlags(string(role), daemonUsage[role][0], daemonUsage[role][1], stderr)
	o := &daemonOpts{role: role}
	o.listen = fs.Str("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated", multiaddrList)
	o.data = fs.String("data", "", daemonUsage[role][2])
	o.logLevel = fs.Str("log-level", "info", "log level: debug, info, warn, error", logLevels)
	o.preset = fs.Str("preset", "default", daemonUsage[role][3], layered.OneOf("default", "local"))
	if role == node.RoleSupernode {
		o.api = fs.Str("api", "", "serve the HTTP API, status page, /metrics and /healthz on HOST:PORT; off if empty", layered.HostPort(true))
	} else {
		o.api = fs.Str("api", "127.0.0.1:5001", "serve the local HTTP API, status page, /metrics and /healthz on HOST:PORT", layered.HostPort(false))
	}
	o.token = fs.String("api-token", "", "require this token (Authorization: Bearer TOKEN, or as the HTTP Basic password) on --api, "+
		"except /healthz and the delegated routing GETs; when --api is bound beyond loopback and this is empty, a token is "+
		"generated into DATA/"+node.TokenFile)
	o.hosts = fs.String("api-allow-host", "", "host names accepted in the Host header of --api requests besides IP literals, "+
		"localhost and the --api host (a reverse proxy's name), comma-separated")
	fs.List("listen", "api-allow-host")
	if role != node.RoleSupernode {
		o.sns = fs.Str("supernode", "", daemonUsage[role][4], peerList)
		o.backups = fs.Int("backups", leaf.DefaultConfig().Backups, "m: backup supernodes attached besides the primary", layered.AtLeast(0))
		o.relay = fs.Str("relay", string(leaf.RelayAuto), "relay slots on the attached supernodes, announced as /p2p-circuit addresses: "+
			"auto (when a dial-back finds this node unreachable, e.g. behind a NAT), always or off",
			layered.OneOf(string(leaf.RelayAuto), string(leaf.RelayAlways), string(leaf.RelayOff)))
		fs.StringVar(&o.bt.Listen, "bt-listen", "", "serve a BitTorrent tracker (HTTP /announce, /scrape and UDP, BEP 3/7/15/23/48) on "+
			"HOST:PORT backed by the overlay; a bare :PORT binds 127.0.0.1; off if empty")
		fs.StringVar(&o.bt.ExternalIP, "bt-external-ip", "", "IP reported to other peers for this machine's BitTorrent clients (default: the address they announced from)")
		fs.StringVar(&o.bt.Allow, "bt-allow", "", "serve only the torrents listed in this file (one infohash, 40 hex digits, per line; # comments); re-read on SIGHUP")
		fs.StringVar(&o.bt.Deny, "bt-deny", "", "never serve the torrents listed in this file (same format); re-read on SIGHUP")
		fs.BoolVar(&o.bt.FullScrape, "bt-full-scrape", false, "answer /scrape without info_hash with every torrent of this leaf's clients (off: it lists them to anyone)")
		fs.Check("bt-listen", layered.HostPort(true))
		fs.Check("bt-external-ip", layered.IPAddr)
		fs.List("supernode")
	}
	if role == node.RoleLeaf {
		def := leaf.DefaultConfig()
		o.heartbeat = fs.Dur("heartbeat", def.HeartbeatInterval, "heartbeat interval to a supernode that asks for none (supernodes ask for theirs on attach)", layered.PositiveDuration)
		o.hedgeFloor = fs.Dur("hedge-floor", def.HedgeFloor,
			"ask a backup supernode too when the primary has not answered a lookup within max(this, 3 × the p90 of its recent answers)", layered.PositiveDuration)
	} else {
		servingFlags(fs, o, role)
	}
	return fs, o
}

// runRole is the one daemon path of every role: flags, environment and
// config file into a node.Config, then election/node until a signal.
func runRole(role node.Role) func(args []string, stdout, stderr io.Writer) int {
	return func(args []string, stdout, stderr io.Writer) int {
		fs, o := daemonFlags(role, stderr)
		if code, done := parseCmd(fs, args, stderr); done {
			return code
		}
		sig := catchSignals()
		daemonProcs(role)
		cfg, err := o.config(stdout, stderr)
		if err == nil {
			err = serve(sig, cfg)
		}
		if err != nil {
			fmt.Fprintln(stderr, "supertracker "+string(role)+":", err)
			return daemonExit(err)
		}
		return exitOK
	}
}

// config is the node.Config the flags (environment, file) describe.
func (o *daemonOpts) config(stdout, stderr io.Writer) (cfg node.Config, err error) {
	if *o.data == "" {
		return cfg, errors.New("--data DIR is required (config key data, $SUPERTRACKER_DATA)")
	}
	if o.role == node.RoleLeaf && *o.sns == "" {
		return cfg, errors.New("--supernode MULTIADDR is required (config key supernode, $SUPERTRACKER_SUPERNODE)")
	}
	log, err := node.NewLogger(*o.logLevel, stderr)
	cfg = node.Config{Role: o.role, DataDir: *o.data, API: *o.api, APIToken: *o.token, APIAllowHosts: layered.SplitList(*o.hosts),
		Stdout: stdout, Logger: log}
	// The values were checked when parsed (multiaddrList, peerList).
	cfg.Listen, _ = multiaddrs(*o.listen)
	if o.local != nil && *o.local {
		*o.preset = "local"
	}
	var known, boot []peer.AddrInfo
	if o.sns != nil {
		known, _ = peers(*o.sns)
		cfg.BT = o.bt
	}
	if o.boot != nil {
		boot, _ = peers(*o.boot)
		cfg.HandoverTimeout = *o.handover
	}
	if o.role != node.RoleLeaf {
		return cfg, errors.Join(err, o.servingConfig(&cfg, known, boot))
	}
	lc := leaf.DefaultConfig() // --preset was checked when parsed: default or local
	if *o.preset == "local" {
		lc = leaf.LocalConfig()
	}
	lc.Backups, lc.HeartbeatInterval, lc.HedgeFloor = *o.backups, *o.heartbeat, *o.hedgeFloor
	lc.Supernodes, lc.DataDir, lc.Relay.Mode = known, *o.data, leaf.RelayMode(*o.relay)
	cfg.Leaf = lc
	return cfg, err
}
