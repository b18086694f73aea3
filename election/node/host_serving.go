//go:build !leafonly

package node

import (
	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/metrics"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	libp2pwebrtc "github.com/libp2p/go-libp2p/p2p/transport/webrtc"
	ws "github.com/libp2p/go-libp2p/p2p/transport/websocket"
	webtransport "github.com/libp2p/go-libp2p/p2p/transport/webtransport"
	ma "github.com/multiformats/go-multiaddr"
)

// newHost starts the libp2p host of a supernode or a node (which may become
// one): every default transport (TCP without port reuse), and resource
// limits sized for a supernode serving many leaves.
func newHost(key crypto.PrivKey, listen []ma.Multiaddr, extra ...libp2p.Option) (host.Host, *metrics.BandwidthCounter, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.AutoScale()
	partial := rcmgr.PartialLimitConfig{
		System:    rcmgr.ResourceLimits{ConnsInbound: 2048, Conns: 4096, StreamsInbound: 16384, Streams: 32768},
		Transient: rcmgr.ResourceLimits{ConnsInbound: 512, Conns: 1024},
	}
	mgr, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(partial.Build(scaled)))
	if err != nil {
		return nil, nil, err
	}
	bw := metrics.NewBandwidthCounter()
	opts := append([]libp2p.Option{libp2p.Identity(key), libp2p.UserAgent(AgentVersion()), libp2p.ResourceManager(mgr), libp2p.BandwidthReporter(bw),
		tcpTransport, libp2p.Transport(quic.NewTransport), libp2p.Transport(ws.New),
		libp2p.Transport(webtransport.New), libp2p.Transport(libp2pwebrtc.New),
		// Hole punching (DCUtR) upgrades a connection relayed by a
		// supernode for a leaf behind a NAT to a direct one where the
		// NATs allow.
		libp2p.EnableHolePunching()}, extra...)
	h, err := startHost(opts, listen)
	if err != nil {
		mgr.Close()
		return nil, nil, err
	}
	return h, bw, nil
}
