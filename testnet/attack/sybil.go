package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	kb "github.com/libp2p/go-libp2p-kbucket"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// A Sybil is a hostile supernode: it presents a valid self-signed cert
// (anyone may declare itself a supernode), answers at the address the cert
// names, gossips its fellow Sybils' certs, takes every replica store and
// answers with a valid signed receipt while storing nothing, and answers
// fetches with no holders (or never). It also runs a stock kad-dht server
// whose routing table admits only Sybils, so the closer peers it gives
// stock clients lead only to Sybils.

// SybilMode is what a Sybil does with fetches.
type SybilMode int

const (
	// AnswerEmpty answers every fetch at once with no holders.
	AnswerEmpty SybilMode = iota
	// Stall never answers a fetch.
	Stall
)

func (m SybilMode) String() string {
	if m == Stall {
		return "stall"
	}
	return "answer empty"
}

// Sybil is one hostile supernode identity.
type Sybil struct {
	Host  host.Host
	mode  SybilMode
	cert  []byte
	crowd *Crowd
	d     *dht.IpfsDHT

	Stores  atomic.Int64 // store requests taken (and dropped)
	Fetches atomic.Int64 // fetch requests seen

	mu   sync.Mutex
	keys map[string]int // multihash → store entries received
}

// Crowd is a set of Sybils that know each other.
type Crowd struct {
	mu     sync.Mutex
	sybils []*Sybil
	ids    map[peer.ID]bool
}

// Members returns the Sybils.
func (c *Crowd) Members() []*Sybil {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Sybil(nil), c.sybils...)
}

// Has reports whether p is one of the crowd.
func (c *Crowd) Has(p peer.ID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ids[p]
}

func (c *Crowd) certs() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, 0, len(c.sybils))
	for _, s := range c.sybils {
		out = append(out, s.cert)
	}
	return out
}

// StartSybils starts one Sybil per key, all listening on ip.
func (l *Lab) StartSybils(ip string, keys []crypto.PrivKey, mode SybilMode) (*Crowd, error) {
	crowd := &Crowd{ids: make(map[peer.ID]bool)}
	for _, k := range keys {
		h, err := l.HostAt(ip, k)
		if err != nil {
			return nil, err
		}
		cert, err := SelfCert(h, 10*time.Minute)
		if err != nil {
			return nil, err
		}
		s := &Sybil{Host: h, mode: mode, cert: cert, crowd: crowd, keys: make(map[string]int)}
		crowd.mu.Lock()
		crowd.sybils = append(crowd.sybils, s)
		crowd.ids[h.ID()] = true
		crowd.mu.Unlock()
		h.SetStreamHandler(protocol.PeerProtocol, s.serve)
		d, err := dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(protocol.DHTPrefix),
			dht.RoutingTableFilter(func(_ any, p peer.ID) bool { return crowd.Has(p) }))
		if err != nil {
			return nil, err
		}
		s.d = d
		l.Defer(func() { d.Close() })
	}
	return crowd, nil
}

// Join introduces every Sybil to every supernode in sns with a hello.
func (c *Crowd) Join(ctx context.Context, sns []peer.AddrInfo) error {
	for _, s := range c.Members() {
		for _, sn := range sns {
			pc, err := DialPeer(ctx, s.Host, sn)
			if err != nil {
				return err
			}
			resp, err := pc.Hello(s.Host)
			pc.Close()
			if err != nil {
				return err
			}
			if resp.Status != pb.Status_OK {
				return fmt.Errorf("attack: hello refused: %s", resp.Error)
			}
		}
	}
	return nil
}

// StoresFor is how many store entries the Sybils received for key.
func (c *Crowd) StoresFor(key []byte) (entries, sybils int) {
	for _, s := range c.Members() {
		s.mu.Lock()
		n := s.keys[string(key)]
		s.mu.Unlock()
		if n > 0 {
			entries += n
			sybils++
		}
	}
	return entries, sybils
}

func (s *Sybil) serve(st network.Stream) {
	defer st.Close()
	r := protocol.DefaultLimits.NewReader(st)
	for {
		_ = st.SetReadDeadline(time.Now().Add(time.Minute))
		frame, err := r.ReadFrame()
		if err != nil {
			st.Reset()
			return
		}
		req, err := protocol.DefaultLimits.DecodePeerRequest(frame)
		if err != nil {
			continue
		}
		resp := &pb.PeerResponse{Id: req.Id}
		switch b := req.Body.(type) {
		case *pb.PeerRequest_Hello:
			resp.Body = &pb.PeerResponse_Hello{Hello: &pb.HelloResponse{Cert: s.cert}}
		case *pb.PeerRequest_Gossip:
			resp.Body = &pb.PeerResponse_Gossip{Gossip: &pb.GossipResponse{Certs: s.crowd.certs()}}
		case *pb.PeerRequest_Store:
			rc, err := s.receipt(b.Store)
			if err != nil {
				resp.Status, resp.Error = pb.Status_BAD_REQUEST, err.Error()
				break
			}
			resp.Body = &pb.PeerResponse_Store{Store: &pb.StoreResponse{Receipt: rc}}
		case *pb.PeerRequest_Fetch:
			s.Fetches.Add(1)
			if s.mode == Stall {
				continue
			}
			resp.Body = &pb.PeerResponse_Fetch{Fetch: &pb.FetchResponse{}}
		}
		_ = st.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := protocol.WriteMsg(st, resp); err != nil {
			st.Reset()
			return
		}
	}
}

// receipt signs "stored" for every entry of st and stores nothing.
func (s *Sybil) receipt(st *pb.StoreRequest) ([]byte, error) {
	s.Stores.Add(1)
	idx := make([]uint32, 0, len(st.Entries))
	s.mu.Lock()
	for _, e := range st.Entries {
		idx = append(idx, e.Index)
		if c, err := protocol.DefaultLimits.CIDFromBytes(e.Cid); err == nil {
			s.keys[string(c.Hash())]++
		}
	}
	s.mu.Unlock()
	return protocol.DefaultLimits.SignReceipt(&protocol.Receipt{Replica: s.Host.ID(), Announcement: sha256.Sum256(st.Announcement),
		Indices: idx, At: time.Now()}, s.Host.Peerstore().PrivKey(s.Host.ID()))
}

// Grind is the outcome of key grinding.
type Grind struct {
	Keys    []crypto.PrivKey
	Tried   int
	Elapsed time.Duration
}

// ErrGrind: grinding gave up before finding enough keys.
var ErrGrind = errors.New("attack: key grinding gave up")

// GrindKeys generates Ed25519 keys until n of them have peer IDs closer to
// key (a multihash) than every peer of honest, in kad-dht's XOR metric
// (SHA-256 of the key and of the peer ID), trying at most maxTries keys.
func GrindKeys(key []byte, honest []peer.ID, n, maxTries int) (Grind, error) {
	start := time.Now()
	target := kb.ConvertKey(string(key))
	var best []byte
	for _, p := range honest {
		d := xor(target, kb.ConvertPeerID(p))
		if best == nil || bytes.Compare(d, best) < 0 {
			best = d
		}
	}
	var g Grind
	for g.Tried < maxTries && len(g.Keys) < n {
		g.Tried++
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return g, err
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			return g, err
		}
		if best == nil || bytes.Compare(xor(target, kb.ConvertPeerID(id)), best) < 0 {
			g.Keys = append(g.Keys, k)
		}
	}
	g.Elapsed = time.Since(start)
	if len(g.Keys) < n {
		return g, fmt.Errorf("%w: %d of %d keys after %d tries", ErrGrind, len(g.Keys), n, g.Tried)
	}
	return g, nil
}

func xor(a, b []byte) []byte {
	out := make([]byte, len(a))
	for i := range a {
		out[i] = a[i] ^ b[i]
	}
	return out
}
