package node

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/supertracker/supertracker/protocol/traffic"
)

// tcpTransport is libp2p's TCP transport with SO_REUSEPORT (its default):
// outbound connections then leave from the listen address, which is what
// another supernode checks against our cert (a node on 127.0.0.5 would
// otherwise dial from 127.0.0.1 and never be verified). Port reuse would
// also let two processes share one --listen address; startHost refuses a
// busy one with a plain bind first (see tcpInUse).
var tcpTransport = libp2p.Transport(tcp.NewTCPTransport)

// leafHostOptions are the libp2p options of a `supertracker leaf` process,
// which runs no DHT and serves nobody but its own API: TCP (without port
// reuse) and QUIC only, libp2p's default resource limits, no libp2p
// Prometheus metrics (nobody scrapes libp2p's registry; the node's /metrics
// has its own), no relay or AutoNAT service (libp2p runs neither unless
// asked). The relay client (circuit transport) stays on for relay
// reservations behind a NAT (leaf/relay.go), with hole punching (DCUtR).
func leafHostOptions(key crypto.PrivKey, bw metrics.Reporter) []libp2p.Option {
	return []libp2p.Option{
		libp2p.Identity(key),
		libp2p.UserAgent(AgentVersion()),
		tcpTransport,
		libp2p.Transport(quic.NewTransport),
		libp2p.BandwidthReporter(bw),
		libp2p.DisableMetrics(),
		libp2p.EnableHolePunching(),
	}
}

// newLeafHost starts a leaf process's host (see leafHostOptions). Its
// bandwidth reporter keeps byte totals only (traffic.ByteCounter): libp2p's
// BandwidthCounter's rate meters wake an idle process every second.
func newLeafHost(key crypto.PrivKey, listen []ma.Multiaddr, extra ...libp2p.Option) (host.Host, metrics.Reporter, error) {
	bw := &traffic.ByteCounter{}
	h, err := startHost(append(leafHostOptions(key, bw), extra...), listen)
	if err != nil {
		return nil, nil, err
	}
	return h, bw, nil
}

// startHost builds a host with opts and then listens on every address of
// listen, failing (ErrInUse) if any of them is taken: libp2p alone starts
// as long as one address works and only logs the others.
func startHost(opts []libp2p.Option, listen []ma.Multiaddr) (host.Host, error) {
	for _, a := range listen {
		if err := tcpInUse(a); err != nil {
			return nil, err
		}
	}
	// NoListenAddrs alone would also switch the circuit relay transport
	// off (libp2p's default for a host that listens nowhere); a leaf
	// behind a NAT is dialled, and dials others, through relays.
	h, err := libp2p.New(append(opts, libp2p.EnableRelay(), libp2p.NoListenAddrs)...)
	if err != nil {
		return nil, fmt.Errorf("starting libp2p host: %w", err)
	}
	for _, a := range listen {
		if err := h.Network().Listen(a); err != nil {
			h.Close()
			if errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use") {
				return nil, fmt.Errorf("%w: --listen %s: the address is already in use by another process", ErrInUse, a)
			}
			if strings.Contains(err.Error(), "no transport for protocol") {
				return nil, fmt.Errorf("--listen %s: no transport listens on such an address: use /tcp/PORT or /udp/PORT/quic-v1", a)
			}
			return nil, fmt.Errorf("--listen %s: %w", a, err)
		}
	}
	return h, nil
}

// tcpInUse binds a TCP --listen address with a fixed port without
// SO_REUSEPORT and lets it go again: the bind fails if any socket, port
// reuse or not, holds the address.
func tcpInUse(a ma.Multiaddr) error {
	network, hostport, err := manet.DialArgs(a)
	if err != nil || !strings.HasPrefix(network, "tcp") || strings.HasSuffix(hostport, ":0") {
		return nil
	}
	l, err := net.Listen(network, hostport)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: --listen %s: the address is already in use by another process", ErrInUse, a)
		}
		return fmt.Errorf("--listen %s: %w", a, err)
	}
	return l.Close()
}
