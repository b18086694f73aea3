package node

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

// BTConfig is the BitTorrent bridge of a leaf or an elected node: a
// tracker (HTTP and UDP) on Listen backed by the overlay.
type BTConfig struct {
	Listen     string // HOST:PORT; a bare :PORT binds 127.0.0.1; "" off
	ExternalIP string // reported for this machine's clients; "": their source address
	Allow      string // file of the only infohashes served; re-read on SIGHUP
	Deny       string // file of infohashes never served; re-read on SIGHUP
	FullScrape bool   // answer /scrape without info_hash
}

// startBTBridge starts the bridge if --bt-listen is set, shows it on the
// view (status page, metrics); the returned stop function closes it.
func startBTBridge(f BTConfig, agent *leaf.Agent, view *opsView, log *slog.Logger) (func(), error) {
	if f.Listen == "" {
		if f.Allow != "" || f.Deny != "" || f.FullScrape {
			return nil, errors.New("--bt-allow, --bt-deny and --bt-full-scrape need --bt-listen")
		}
		return func() {}, nil
	}
	hostport := f.Listen
	if strings.HasPrefix(hostport, ":") {
		hostport = "127.0.0.1" + hostport
	}
	if _, _, err := net.SplitHostPort(hostport); err != nil {
		return nil, fmt.Errorf("--bt-listen %q: want HOST:PORT: %w", f.Listen, err)
	}
	var cfg btbridge.Config
	if f.ExternalIP != "" {
		ip, err := netip.ParseAddr(f.ExternalIP)
		if err != nil {
			return nil, fmt.Errorf("--bt-external-ip %q: %w", f.ExternalIP, err)
		}
		cfg.ExternalIP = ip
	}
	if ttl := agent.RecordTTL(); ttl > 0 {
		cfg.RecordTTL = ttl
	}
	cfg.Logger = log
	cfg.Frontend.FullScrape = f.FullScrape
	if view != nil {
		cfg.Frontend.OnRequest = view.bt.observeRequest
		cfg.OnLookup = view.observeBTLookup
	}
	acl, err := bttracker.LoadAccessList(f.Allow, f.Deny)
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
		"allow_list", allowN, "deny_list", denyN, "full_scrape", f.FullScrape)
	return func() {
		stopReload()
		cancel()
		<-done
		br.Close()
	}, nil
}

// reloadOnHangup re-reads --bt-allow and --bt-deny on SIGHUP; a list that
// fails to load leaves the one in force.
func reloadOnHangup(f BTConfig, br *btbridge.Bridge, log *slog.Logger) func() {
	if f.Allow == "" && f.Deny == "" {
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
			acl, err := bttracker.LoadAccessList(f.Allow, f.Deny)
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
