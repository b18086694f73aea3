package attack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	golog "github.com/ipfs/go-log/v2"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/supernode"
)

// Quiet discards logs.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var quietLibp2p sync.Once

// QuietLibp2p turns libp2p's own logging down to errors (it logs
// "failed to resolve local interface addresses" on every host here).
func QuietLibp2p() {
	quietLibp2p.Do(func() {
		_ = golog.SetLogLevel("*", "error")
		_ = golog.SetLogLevel("net/identify", "fatal")
		_ = golog.SetLogLevel("basichost", "fatal")
	})
}

// nextIP hands out loopback addresses no other host of this process uses:
// 127.77.x.y, y in 2..251.
var nextIP atomic.Int64

// FreshIP returns a loopback address of its own (its own /32 prefix).
func FreshIP() string {
	n := nextIP.Add(1) - 1
	return fmt.Sprintf("127.77.%d.%d", (n/250)%250, n%250+2)
}

// Lab owns the hosts, supernodes, leaves and DHT clients of one attack
// scenario and closes them all, newest first.
type Lab struct {
	mu      sync.Mutex
	closers []func()
}

// NewLab returns an empty lab.
func NewLab() *Lab {
	QuietLibp2p()
	return &Lab{}
}

// Defer runs f at Close.
func (l *Lab) Defer(f func()) {
	l.mu.Lock()
	l.closers = append(l.closers, f)
	l.mu.Unlock()
}

// Close closes everything the lab started, newest first.
func (l *Lab) Close() {
	l.mu.Lock()
	cs := l.closers
	l.closers = nil
	l.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

// HostAt starts a libp2p host listening on ip (a loopback address) with key
// (nil: a new Ed25519 key). Its outgoing connections come from ip too, so
// the hosts it talks to see its own prefix: libp2p's reuseport dial does
// that, but falls back to an unbound dial (from 127.0.0.1 on loopback) when
// two hosts dial each other at once, and a supernode whose session runs
// over such a connection is never verified by the other (its cert does not
// name 127.0.0.1).
func (l *Lab) HostAt(ip string, key crypto.PrivKey) (host.Host, error) {
	local := &net.TCPAddr{IP: net.ParseIP(ip)}
	if local.IP == nil {
		return nil, fmt.Errorf("attack: host on %q: not an IP", ip)
	}
	fromIP := func(ma.Multiaddr) (tcp.ContextDialer, error) { return &net.Dialer{LocalAddr: local}, nil }
	opts := []libp2p.Option{libp2p.ListenAddrStrings(fmt.Sprintf("/ip4/%s/tcp/0", ip)),
		libp2p.Transport(tcp.NewTCPTransport, tcp.WithDialerForAddr(fromIP))}
	if key != nil {
		opts = append(opts, libp2p.Identity(key))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("attack: host on %s: %w", ip, err)
	}
	l.Defer(func() { h.Close() })
	return h, nil
}

// Host starts a host on an address of its own.
func (l *Lab) Host() (host.Host, error) { return l.HostAt(FreshIP(), nil) }

// SupernodeConfig is supernode.LocalConfig, quiet, with replica diversity
// by /32 (every lab host has an address of its own) and r replicas.
func SupernodeConfig(r int) supernode.Config {
	c := supernode.LocalConfig()
	c.Logger = Quiet
	c.ReplicationFactor = r
	c.PrefixBits4, c.PrefixBits6 = 32, 128
	return c
}

// Supernodes starts n supernodes, each on an address of its own, all
// bootstrapped to the first, and waits until every view holds all n.
func (l *Lab) Supernodes(ctx context.Context, n int, cfg supernode.Config) ([]*supernode.Node, error) {
	var out []*supernode.Node
	for i := range n {
		c := cfg
		if i > 0 {
			c.BootstrapPeers = []peer.AddrInfo{out[0].AddrInfo()}
		}
		h, err := l.Host()
		if err != nil {
			return nil, err
		}
		sn, err := supernode.New(h, c)
		if err != nil {
			return nil, fmt.Errorf("attack: supernode %d: %w", i, err)
		}
		l.Defer(func() { sn.Close() })
		out = append(out, sn)
	}
	err := WaitFor(ctx, 60*time.Second, func() bool {
		for _, sn := range out {
			if sn.MemberCount() < n {
				return false
			}
		}
		return true
	})
	if err != nil {
		counts := make([]int, len(out))
		for i, sn := range out {
			counts[i] = sn.MemberCount()
		}
		return nil, fmt.Errorf("attack: membership views did not fill (views hold %v of %d): %w", counts, n, err)
	}
	return out, nil
}

// Infos returns the supernodes' peer IDs and addresses.
func Infos(sns []*supernode.Node) []peer.AddrInfo {
	out := make([]peer.AddrInfo, len(sns))
	for i, sn := range sns {
		out[i] = sn.AddrInfo()
	}
	return out
}

// LeafConfig is a quiet leaf config with fast heartbeats that knows sns.
func LeafConfig(sns []peer.AddrInfo) leaf.Config {
	c := leaf.DefaultConfig()
	c.Supernodes = sns
	c.Logger = Quiet
	c.HeartbeatInterval = 250 * time.Millisecond
	c.RequestTimeout = 5 * time.Second
	return c
}

// Leaf starts an honest leaf agent on an address of its own and waits
// until it is attached.
func (l *Lab) Leaf(ctx context.Context, cfg leaf.Config) (*leaf.Agent, error) {
	h, err := l.Host()
	if err != nil {
		return nil, err
	}
	a, err := leaf.New(h, cfg)
	if err != nil {
		return nil, err
	}
	l.Defer(func() { a.Close() })
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := a.WaitAttached(wctx); err != nil {
		return nil, fmt.Errorf("attack: leaf attaching: %w", err)
	}
	return a, nil
}

// StockClient starts a stock go-libp2p-kad-dht client (ModeClient, prefix
// /supertracker) bootstrapped to boot, on an address of its own, and waits
// until its routing table holds a peer.
func (l *Lab) StockClient(ctx context.Context, boot peer.AddrInfo) (*dht.IpfsDHT, error) {
	h, err := l.Host()
	if err != nil {
		return nil, err
	}
	d, err := dht.New(h, dht.Mode(dht.ModeClient), dht.ProtocolPrefix(protocol.DHTPrefix), dht.BootstrapPeers(boot))
	if err != nil {
		return nil, err
	}
	l.Defer(func() { d.Close() })
	if err := h.Connect(ctx, boot); err != nil {
		return nil, err
	}
	if err := WaitFor(ctx, 10*time.Second, func() bool { return d.RoutingTable().Size() > 0 }); err != nil {
		return nil, fmt.Errorf("attack: stock client routing table stayed empty: %w", err)
	}
	return d, nil
}

// ErrTimeout: a condition did not hold before its deadline.
var ErrTimeout = errors.New("attack: timed out")

// WaitFor polls cond every 20 ms until it holds, d passes or ctx ends.
func WaitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s", ErrTimeout, d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling interval
		}
	}
	return nil
}
