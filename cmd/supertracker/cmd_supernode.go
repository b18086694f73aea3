package main

import (
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/election/probe"
	"github.com/supertracker/supertracker/protocol/identity"
	"github.com/supertracker/supertracker/supernode"
)

type supernodeOpts struct {
	listen, data, bootstrap, api, logLevel *string
	repl, maxLeaves, maxRecords            *int
	ttl, sessionTimeout, handover          *time.Duration
	rps                                    *float64
	local                                  *bool
	guard                                  apiGuardFlags
	relay                                  relayServiceFlags
}

func supernodeFlags(stderr io.Writer) (*cmdFlags, *supernodeOpts) {
	fs := newCmdFlags("supernode", "supernode --listen MULTIADDR --data DIR [--bootstrap MULTIADDR[,…]] [--api HOST:PORT] [--config FILE]",
		`Runs a supernode: a kad-dht server (protocol prefix /supertracker) that
stores leaves' signed object→peer records and serves leaf sessions. Prints
each full listen multiaddr (ending in /p2p/PEERID) on its own line at start.
Records, the record index and the peerstore are kept in DATA/datastore, so a
restart on the same --data serves every record that has not expired. On
SIGINT/SIGTERM it hands its leaves over to other supernodes, flushes its
store and exits 0; a second signal exits at once.

With --api it also serves the status page (/), /metrics and /healthz.`, stderr)
	def := supernode.DefaultConfig()
	o := &supernodeOpts{
		listen:     fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated"),
		data:       fs.String("data", "", "data directory: identity key, datastore (required)"),
		bootstrap:  fs.String("bootstrap", "", "supernodes to join through: multiaddrs ending in /p2p/PEERID, comma-separated"),
		api:        fs.String("api", "", "serve the HTTP API, status page, /metrics and /healthz on HOST:PORT; off if empty"),
		repl:       fs.Int("replication", def.ReplicationFactor, "r: supernodes that store each record"),
		ttl:        fs.Duration("record-ttl", def.RecordTTL, "records expire this long after their last refresh"),
		maxLeaves:  fs.Int("max-leaves", def.MaxLeaves, "most leaves attached at once"),
		maxRecords: fs.Int("max-records-per-leaf", def.MaxRecordsPerLeaf, "most live records per leaf"),
		rps:        fs.Float64("rate", def.RequestsPerSecond, "requests per second allowed per peer"),
		local:      fs.Bool("local", false, "use fast local timings (testnets): 1 s heartbeats, 3 s session timeout"),
		sessionTimeout: fs.Duration("session-timeout", 0,
			"detach a leaf not heard from for this long (0: 15s, or 3s with --local)"),
		handover: fs.Duration("handover-timeout", 0,
			"at shutdown, wait up to this long for attached leaves to move to other supernodes (0: session timeout + one heartbeat)"),
		logLevel: fs.String("log-level", "info", "log level: debug, info, warn, error"),
	}
	o.guard = addAPIGuardFlags(fs)
	fs.list("listen", "bootstrap")
	fs.check("listen", multiaddrList)
	fs.check("bootstrap", peerList)
	fs.check("api", hostPort(true))
	fs.check("replication", atLeast(1))
	fs.check("record-ttl", positiveDuration)
	fs.check("max-leaves", atLeast(1))
	fs.check("max-records-per-leaf", atLeast(1))
	fs.check("rate", positiveFloat)
	fs.check("session-timeout", nonNegativeDuration)
	fs.check("handover-timeout", nonNegativeDuration)
	fs.check("log-level", logLevels)
	o.relay = addRelayServiceFlags(fs)
	return fs, o
}

func runSupernode(args []string, stdout, stderr io.Writer) int {
	return runDaemon("supernode", args, stdout, stderr, supernodeFlags, supernodeMain)
}

func supernodeMain(stdout, stderr io.Writer, o *supernodeOpts) error {
	if *o.data == "" {
		return errors.New("--data DIR is required (config key data, $SUPERTRACKER_DATA)")
	}
	log, err := newLogger(*o.logLevel, stderr)
	if err != nil {
		return err
	}
	sig := catchSignals()
	addrs, err := parseListen(*o.listen)
	if err != nil {
		return err
	}
	boot, err := parsePeers("--bootstrap", *o.bootstrap)
	if err != nil {
		return err
	}
	cfg := supernode.DefaultConfig()
	if *o.local {
		cfg = supernode.LocalConfig()
	}
	cfg.ReplicationFactor, cfg.RecordTTL, cfg.MaxLeaves, cfg.MaxRecordsPerLeaf, cfg.RequestsPerSecond = *o.repl, *o.ttl, *o.maxLeaves, *o.maxRecords, *o.rps
	if *o.sessionTimeout > 0 {
		cfg.SessionTimeout = max(*o.sessionTimeout, cfg.HeartbeatInterval)
	}
	cfg.Logger = log
	o.relay.apply(&cfg.Relay)
	if err := cfg.Validate(); err != nil {
		return err
	}
	unlock, err := lockDataDir(*o.data)
	if err != nil {
		return err
	}
	defer unlock()
	key, err := identity.Load(*o.data)
	if err != nil {
		return err
	}
	self, err := peer.IDFromPrivateKey(key)
	if err != nil {
		return err
	}
	dur, err := openDurable(*o.data, self, cfg.RecordTTL, log)
	if err != nil {
		return err
	}
	defer dur.store.Close() // last: after the host closed the peerstore
	cfg.BootstrapPeers = mergePeers(boot, dur.known)
	cfg.Datastore = dur.store
	h, bw, err := newHost(key, addrs, libp2p.Peerstore(dur.ps))
	if err != nil {
		dur.ps.Close()
		return err
	}
	defer h.Close()
	sn, err := supernode.New(h, cfg)
	if err != nil {
		return err
	}
	// Dial-back and bandwidth probes for the leaves (a leaf behind a NAT
	// learns from the dial-back that it needs relay slots).
	probes := probe.NewServer(h, cfg.Limits, probe.Answers{})
	defer probes.Close()
	printListenAddrs(stdout, h)
	current := func() *supernode.Node { return sn }
	view := newOpsView(&supernode.APIBackend{Node: sn, Started: time.Now(), Bandwidth: bw}, current, nil)
	stopAPI := func() {}
	if *o.api != "" {
		guard, err := o.guard.config(*o.api, *o.data, log)
		if err != nil {
			sn.Close()
			return err
		}
		if stopAPI, err = serveAPI(*o.api, view.handler(guard), log); err != nil {
			sn.Close()
			return err
		}
	}
	stopRemembering := startRemembering(h, current, time.Minute)
	log.Info("supernode running", "peer", h.ID(), "bootstrap", len(cfg.BootstrapPeers), "remembered", len(dur.known))
	sig.wait(log)

	// Graceful shutdown: hand the leaves over, remember the supernodes we
	// know, flush the provider store (Close), then the host and datastore.
	view.stopping.Store(true)
	timeout := *o.handover
	if timeout == 0 {
		timeout = cfg.SessionTimeout + cfg.HeartbeatInterval
	}
	handOver(h, sn, timeout, log)
	stopRemembering()
	rememberSupernodes(h, sn)
	stopAPI()
	if err := sn.Close(); err != nil {
		log.Warn("closing the supernode", "err", err)
	}
	log.Info("supernode stopped")
	return nil
}
