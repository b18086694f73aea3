package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/leaf/btbridge"
	"github.com/supertracker/supertracker/leaf/bttracker"
)

// btFlags are the BitTorrent bridge flags shared by leaf and node.
type btFlags struct {
	listen     *string
	externalIP *string
	allow      *string
	deny       *string
	fullScrape *bool
}

func addBTFlags(fs interface {
	String(name, value, usage string) *string
	Bool(name string, value bool, usage string) *bool
}) btFlags {
	return btFlags{
		listen: fs.String("bt-listen", "", "serve a BitTorrent tracker (HTTP /announce, /scrape and UDP, BEP 3/7/15/23/48) on HOST:PORT "+
			"backed by the overlay; a bare :PORT binds 127.0.0.1; off if empty"),
		externalIP: fs.String("bt-external-ip", "", "IP reported to other peers for this machine's BitTorrent clients (default: the address they announced from)"),
		allow: fs.String("bt-allow", "", "serve only the torrents listed in this file (one infohash, 40 hex digits, per line; # comments); "+
			"re-read on SIGHUP"),
		deny:       fs.String("bt-deny", "", "never serve the torrents listed in this file (same format); re-read on SIGHUP"),
		fullScrape: fs.Bool("bt-full-scrape", false, "answer /scrape without info_hash with every torrent of this leaf's clients (off: it lists them to anyone)"),
	}
}

// startBTBridge starts the bridge if --bt-listen is set, shows it on the
// view (status page, metrics); the returned stop function closes it.
func startBTBridge(f btFlags, agent *leaf.Agent, view *opsView, log *slog.Logger) (func(), error) {
	if *f.listen == "" {
		if *f.allow != "" || *f.deny != "" || *f.fullScrape {
			return nil, errors.New("--bt-allow, --bt-deny and --bt-full-scrape need --bt-listen")
		}
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
	cfg.Logger = log
	cfg.Frontend.FullScrape = *f.fullScrape
	if view != nil {
		cfg.Frontend.OnRequest = view.bt.observeRequest
		cfg.OnLookup = view.observeBTLookup
	}
	acl, err := bttracker.LoadAccessList(*f.allow, *f.deny)
	if err != nil {
		return nil, err
	}
	br, err := btbridge.New(agent, cfg)
	if err != nil {
		return nil, err
	}
	br.SetAccessList(acl)
	l, err := br.Listen(hostport)
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("--bt-listen %s: %w", hostport, err)
	}
	addr := l.Addr().String()
	if view != nil {
		view.setBridge(br, []string{"http://" + addr + "/announce", "udp://" + addr + "/announce"})
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := br.Serve(ctx, l); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("BitTorrent tracker stopped", "err", err)
		}
	}()
	stopReload := reloadOnHangup(f, br, log)
	allowN, denyN := acl.Len()
	log.Info("BitTorrent tracker listening", "announce", "http://"+addr+"/announce", "udp", "udp://"+addr+"/announce",
		"allow_list", allowN, "deny_list", denyN, "full_scrape", *f.fullScrape)
	return func() {
		stopReload()
		cancel()
		<-done
		br.Close()
	}, nil
}

// reloadOnHangup re-reads --bt-allow and --bt-deny on SIGHUP; a list that
// fails to load leaves the one in force.
func reloadOnHangup(f btFlags, br *btbridge.Bridge, log *slog.Logger) func() {
	if *f.allow == "" && *f.deny == "" {
		return func() {}
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-ch:
			}
			acl, err := bttracker.LoadAccessList(*f.allow, *f.deny)
			if err != nil {
				log.Error("SIGHUP: keeping the infohash lists in force", "err", err)
				continue
			}
			br.SetAccessList(acl)
			a, d := acl.Len()
			log.Info("SIGHUP: infohash lists reloaded", "allow_list", a, "deny_list", d)
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
