package main

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/identity"
)

type leafOpts struct {
	listen, data, sns, api, logLevel *string
	backups                          *int
	hb, hedgeFloor                   *time.Duration
	bt                               btFlags
	guard                            apiGuardFlags
	relay                            *string
}

func leafFlags(stderr io.Writer) (*cmdFlags, *leafOpts) {
	fs := newCmdFlags("leaf", "leaf --listen MULTIADDR --data DIR --supernode MULTIADDR[,…] --api HOST:PORT [--config FILE]",
		`Runs a leaf agent: it attaches to the lowest-RTT supernode plus backups,
announces and looks up objects through it, fails over when it is lost, and
serves a local HTTP/JSON API for desktop apps (see README: API), a status
page (/), /metrics and /healthz. On SIGINT/SIGTERM it detaches from its
supernodes and exits 0.`, stderr)
	def := leaf.DefaultConfig()
	o := &leafOpts{
		listen:  fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated"),
		data:    fs.String("data", "", "data directory: identity key and announced objects (required)"),
		sns:     fs.String("supernode", "", "supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated (required)"),
		api:     fs.String("api", "127.0.0.1:5001", "serve the local HTTP API, status page, /metrics and /healthz on HOST:PORT"),
		backups: fs.Int("backups", def.Backups, "m: backup supernodes attached besides the primary"),
		hb:      fs.Duration("heartbeat", def.HeartbeatInterval, "heartbeat interval to a supernode that asks for none (supernodes ask for theirs on attach)"),
		hedgeFloor: fs.Duration("hedge-floor", def.HedgeFloor,
			"ask a backup supernode too when the primary has not answered a lookup within max(this, 3 × the p90 of its recent answers)"),
		logLevel: fs.String("log-level", "info", "log level: debug, info, warn, error"),
	}
	o.bt = addBTFlags(fs)
	o.guard = addAPIGuardFlags(fs)
	o.relay = addRelayModeFlag(fs)
	fs.list("listen", "supernode")
	fs.check("listen", multiaddrList)
	fs.check("supernode", peerList)
	fs.check("api", hostPort(false))
	fs.check("backups", atLeast(0))
	fs.check("heartbeat", positiveDuration)
	fs.check("hedge-floor", positiveDuration)
	fs.check("log-level", logLevels)
	fs.check("bt-listen", hostPort(true))
	fs.check("bt-external-ip", ipAddr)
	return fs, o
}

func runLeaf(args []string, stdout, stderr io.Writer) int {
	return runDaemon("leaf", args, stdout, stderr, leafFlags, leafMain)
}

func leafMain(stdout, stderr io.Writer, o *leafOpts) error {
	if *o.data == "" {
		return errors.New("--data DIR is required (config key data, $SUPERTRACKER_DATA)")
	}
	if *o.sns == "" {
		return errors.New("--supernode MULTIADDR is required (config key supernode, $SUPERTRACKER_SUPERNODE)")
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
	infos, err := parsePeers("--supernode", *o.sns)
	if err != nil {
		return err
	}
	cfg := leaf.DefaultConfig()
	cfg.Backups, cfg.HeartbeatInterval, cfg.HedgeFloor = *o.backups, *o.hb, *o.hedgeFloor
	cfg.Supernodes, cfg.DataDir, cfg.Logger = infos, *o.data, log
	cfg.Relay.Mode = leaf.RelayMode(*o.relay)
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
	h, bw, err := newLeafHost(key, addrs)
	if err != nil {
		return err
	}
	defer h.Close()
	agent, err := leaf.New(h, cfg)
	if err != nil {
		return err
	}
	defer agent.Close() // detaches from every supernode
	printListenAddrs(stdout, h)
	view := newOpsView(&leaf.APIBackend{Agent: agent, Started: time.Now(), Bandwidth: bw}, nil, func() *leaf.Agent { return agent })
	guard, err := o.guard.config(*o.api, *o.data, log)
	if err != nil {
		return err
	}
	stop, err := serveAPI(*o.api, view.handler(guard), log)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(sig.ctx, 30*time.Second)
	if err := agent.WaitAttached(ctx); err != nil {
		log.Warn("not attached yet; still trying", "err", err)
	}
	cancel()
	stopBT, err := startBTBridge(o.bt, agent, view, log)
	if err != nil {
		return err
	}
	defer stopBT()
	log.Info("leaf running", "peer", h.ID(), "objects", len(agent.Objects()))
	sig.wait(log)
	view.stopping.Store(true)
	return nil
}
