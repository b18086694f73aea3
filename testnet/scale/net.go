package scale

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
)

type peerID = peer.ID

// world is one design's network: a go-libp2p mocknet whose every pair of
// nodes is linked with a one-way delay of RTT/2, the RTT drawn for that
// pair (by slot numbers, so both designs see the same matrix) from the
// shipped wide-area table. Mocknet applies the delay to every write; it
// models no connection handshake (TCP, TLS, muxer negotiation cost 1–3
// RTTs on the Internet) and no loss.
type world struct {
	mn   mocknet.Mocknet
	rtt  *RTTTable
	seed uint64

	mu     sync.Mutex
	nodes  map[int]*node // live nodes by slot
	byPeer map[peer.ID]*node
}

// node is one live peer of the world.
type node struct {
	slot  int
	h     host.Host // counting wrapper: what designs use
	raw   host.Host
	meter *trafficMeter
	born  time.Time

	mu    sync.Mutex
	links []mocknet.Link
}

func newWorld(rtt *RTTTable, seed uint64) *world {
	return &world{mn: mocknet.New(), rtt: rtt, seed: seed,
		nodes: make(map[int]*node), byPeer: make(map[peer.ID]*node)}
}

// pairRTT is the RTT of the link between slots a and b: the table's
// quantile at a uniform draw that depends only on (seed, a, b).
func (w *world) pairRTT(a, b int) time.Duration {
	if a > b {
		a, b = b, a
	}
	r := rand.New(rand.NewPCG(w.seed^0x9e3779b97f4a7c15, uint64(a)<<32|uint64(b)))
	return w.rtt.Quantile(r.Float64())
}

// slotKey is slot's identity key (Ed25519, deterministic in seed and slot).
func slotKey(seed uint64, slot int) (crypto.PrivKey, error) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(slot))
	copy(s[16:], "supertracker-sc")
	sk, _, err := crypto.GenerateEd25519Key(rand.NewChaCha8(s))
	return sk, err
}

// slotAddr is slot's address: a /24 of its own (supernodes place replicas
// and cap leaves per network prefix), as peers on the Internet mostly
// have. Mocknet only uses it as a label: nothing is routed.
func slotAddr(slot int) ma.Multiaddr {
	a, _ := ma.NewMultiaddr(fmt.Sprintf("/ip4/%d.%d.%d.1/tcp/4001", 20+slot>>16, (slot>>8)&0xff, slot&0xff))
	return a
}

// add starts the host of slot and links it to every live node.
func (w *world) add(slot int) (*node, error) {
	if slot >= 1<<17 {
		return nil, fmt.Errorf("scale: slot %d beyond the address range", slot)
	}
	sk, err := slotKey(w.seed, slot)
	if err != nil {
		return nil, err
	}
	raw, err := w.mn.AddPeer(sk, slotAddr(slot))
	if err != nil {
		return nil, err
	}
	n := &node{slot: slot, raw: raw, meter: &trafficMeter{}, born: time.Now()}
	n.h = &countingHost{Host: raw, m: n.meter}
	// Mocknet hosts run no ping service; libp2p.New starts one by
	// default, and leaves measure RTTs with it.
	ping.NewPingService(n.h)
	w.mu.Lock()
	others := make([]*node, 0, len(w.nodes))
	for _, o := range w.nodes {
		others = append(others, o)
	}
	w.nodes[slot] = n
	w.byPeer[raw.ID()] = n
	w.mu.Unlock()
	for _, o := range others {
		l, err := w.mn.LinkPeers(raw.ID(), o.raw.ID())
		if err != nil {
			return nil, err
		}
		l.SetOptions(mocknet.LinkOptions{Latency: w.pairRTT(slot, o.slot) / 2})
		n.mu.Lock()
		n.links = append(n.links, l)
		n.mu.Unlock()
		o.mu.Lock()
		o.links = append(o.links, l)
		o.mu.Unlock()
	}
	return n, nil
}

// remove takes slot's node out of the world: its host closes (every
// connection drops, as when a process dies and the kernel resets its
// sockets) and its links go.
func (w *world) remove(slot int) *node {
	w.mu.Lock()
	n := w.nodes[slot]
	if n != nil {
		delete(w.nodes, slot)
		delete(w.byPeer, n.raw.ID())
	}
	w.mu.Unlock()
	if n == nil {
		return nil
	}
	n.raw.Close()
	n.mu.Lock()
	links := n.links
	n.links = nil
	n.mu.Unlock()
	for _, l := range links {
		_ = w.mn.Unlink(l) // the other end may have gone first
	}
	return n
}

// alive reports whether p is a live node.
func (w *world) alive(p peer.ID) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byPeer[p] != nil
}

func (w *world) node(slot int) *node {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodes[slot]
}

// snapshot returns every live node's traffic by slot.
func (w *world) snapshot() map[int]Traffic {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[int]Traffic, len(w.nodes))
	for s, n := range w.nodes {
		out[s] = n.meter.snapshot()
	}
	return out
}

func (w *world) close() {
	w.mu.Lock()
	slots := make([]int, 0, len(w.nodes))
	for s := range w.nodes {
		slots = append(slots, s)
	}
	w.mu.Unlock()
	for _, s := range slots {
		if n := w.node(s); n != nil {
			n.raw.Close()
		}
	}
	_ = w.mn.Close()
}
