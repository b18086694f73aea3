package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/leaf/btbridge"
)

// btFlags are the BitTorrent bridge flags shared by leaf and node.
type btFlags struct {
	listen     *string
	externalIP *string
}

func addBTFlags(fs interface {
	String(name, value, usage string) *string
}) btFlags {
	return btFlags{
		listen: fs.String("bt-listen", "", "serve a BitTorrent tracker (HTTP /announce, /scrape and UDP, BEP 3/7/15/23/48) on HOST:PORT "+
			"backed by the overlay; a bare :PORT binds 127.0.0.1; off if empty"),
		externalIP: fs.String("bt-external-ip", "", "IP reported to other peers for this machine's BitTorrent clients (default: the address they announced from)"),
	}
}

// startBTBridge starts the bridge if --bt-listen is set; the returned stop
// function closes it.
func startBTBridge(f btFlags, agent *leaf.Agent, log *slog.Logger) (func(), error) {
	if *f.listen == "" {
		return func() {}, nil
	}
	hostport := *f.listen
	if strings.HasPrefix(hostport, ":") {
		hostport = "127.0.0.1" + hostport
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return nil, fmt.Errorf("--bt-listen %q: want HOST:PORT: %w", *f.listen, err)
	}
	var cfg btbridge.Config
	if *f.externalIP != "" {
		ip, err := netip.ParseAddr(*f.externalIP)
		if err != nil {
			return nil, fmt.Errorf("--bt-external-ip %q: %w", *f.externalIP, err)
		}
		cfg.ExternalIP = ip
	}
	if ttl := agent.RecordTTL(); ttl > 0 {
		cfg.RecordTTL = ttl
	}
	br, err := btbridge.New(agent, cfg)
	if err != nil {
		return nil, err
	}
	l, err := br.Listen(hostport)
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("--bt-listen %s: %w", hostport, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := br.Serve(ctx, l); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("BitTorrent tracker stopped", "err", err)
		}
	}()
	log.Info("BitTorrent tracker listening", "announce", "http://"+hostport+"/announce", "udp", "udp://"+hostport)
	return func() {
		cancel()
		<-done
		br.Close()
	}, nil
}
