package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol/httpapi"
)

func runLeaf(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("leaf --listen MULTIADDR --data DIR --supernode MULTIADDR[,…] --api HOST:PORT",
		`Runs a leaf agent: it attaches to the lowest-RTT supernode plus backups,
announces and looks up objects through it, fails over when it is lost, and
serves a local HTTP/JSON API for desktop apps (see README: API).`, stderr)
	def := leaf.DefaultConfig()
	listen := fs.String("listen", "/ip4/127.0.0.1/tcp/0", "multiaddr(s) to listen on, comma-separated")
	data := fs.String("data", "", "data directory: identity key and announced objects (required)")
	sns := fs.String("supernode", "", "supernodes to attach to: multiaddrs ending in /p2p/PEERID, comma-separated (required)")
	api := fs.String("api", "127.0.0.1:5001", "serve the local HTTP API on HOST:PORT")
	backups := fs.Int("backups", def.Backups, "m: backup supernodes attached besides the primary")
	hb := fs.Duration("heartbeat", def.HeartbeatInterval, "heartbeat interval to attached supernodes")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	bt := addBTFlags(fs)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if err := leafMain(stdout, stderr, *listen, *data, *sns, *api, *logLevel, bt, func(c *leaf.Config) {
		c.Backups, c.HeartbeatInterval = *backups, *hb
	}); err != nil {
		fmt.Fprintln(stderr, "supertracker leaf:", err)
		return 2
	}
	return 0
}

func leafMain(stdout, stderr io.Writer, listen, data, sns, api, logLevel string, bt btFlags, set func(*leaf.Config)) error {
	if data == "" {
		return errors.New("--data DIR is required")
	}
	if sns == "" {
		return errors.New("--supernode MULTIADDR is required")
	}
	log, err := newLogger(logLevel, stderr)
	if err != nil {
		return err
	}
	addrs, err := parseListen(listen)
	if err != nil {
		return err
	}
	infos, err := parsePeers("--supernode", sns)
	if err != nil {
		return err
	}
	cfg := leaf.DefaultConfig()
	set(&cfg)
	cfg.Supernodes, cfg.DataDir, cfg.Logger = infos, data, log
	if err := cfg.Validate(); err != nil {
		return err
	}
	key, err := loadIdentity(data)
	if err != nil {
		return err
	}
	h, bw, err := newHost(key, addrs)
	if err != nil {
		return err
	}
	defer h.Close()
	agent, err := leaf.New(h, leaf.WithConfig(cfg))
	if err != nil {
		return err
	}
	defer agent.Close()
	printListenAddrs(stdout, h)
	stop, err := serveAPI(api, httpapi.NewHandler(&leaf.APIBackend{Agent: agent, Started: time.Now(), Bandwidth: bw}), log)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if err := agent.WaitAttached(ctx); err != nil {
		log.Warn("not attached yet; still trying", "err", err)
	}
	cancel()
	stopBT, err := startBTBridge(bt, agent, log)
	if err != nil {
		return err
	}
	defer stopBT()
	log.Info("leaf running", "peer", h.ID(), "objects", len(agent.Objects()))
	waitForSignal(log)
	return nil
}
