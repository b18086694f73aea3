package attack

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
)

// A Sybil attack on the membership view: certs cost a key and a signature,
// and a view holds a bounded number of members. An attacker gossips
// thousands of self-signed certs (throwaway keys, addresses on its one
// prefix where nobody answers) to a supernode; then a new honest
// supernode joins. The attacker wins if the newcomer never becomes usable
// in the flooded view (the overlay cannot grow past it), or if an honest
// member drops out of it.

// ViewFloodConfig sizes the view flood.
type ViewFloodConfig struct {
	Honest int // honest supernodes before the newcomer (default 4)
	Certs  int // junk certs gossiped (default 5000, above the view's 4096)
}

// RunViewFlood runs the view flood.
func RunViewFlood(ctx context.Context, cfg ViewFloodConfig) Row {
	if cfg.Honest == 0 {
		cfg.Honest = 4
	}
	if cfg.Certs == 0 {
		cfg.Certs = 5000
	}
	name := fmt.Sprintf("membership view flood: %d self-signed certs from one /32, then an honest supernode joins", cfg.Certs)
	r, err := runViewFlood(ctx, cfg)
	if err != nil {
		r = Failed(2, name, err)
	}
	r.Point, r.Attack = 2, name
	return r
}

func runViewFlood(ctx context.Context, cfg ViewFloodConfig) (Row, error) {
	lab := NewLab()
	defer lab.Close()
	scfg := SupernodeConfig(3)
	sns, err := lab.Supernodes(ctx, cfg.Honest, scfg)
	if err != nil {
		return Row{}, err
	}
	ip := FreshIP()
	h, err := lab.HostAt(ip, nil)
	if err != nil {
		return Row{}, err
	}
	start := time.Now()
	certs, err := junkCerts(ip, cfg.Certs)
	if err != nil {
		return Row{}, err
	}
	minted := time.Since(start)
	target := sns[0]
	pc, err := DialPeer(ctx, h, target.AddrInfo())
	if err != nil {
		return Row{}, err
	}
	defer pc.Close()
	if resp, err := pc.Hello(h); err != nil || resp.Status != pb.Status_OK {
		return Row{}, fmt.Errorf("hello: %v %v", err, resp.GetError())
	}
	lim := protocol.DefaultLimits.MaxGossipCerts
	for i := 0; i < len(certs); i += lim {
		batch := certs[i:min(i+lim, len(certs))]
		if _, err := pc.Call(&pb.PeerRequest{Body: &pb.PeerRequest_Gossip{Gossip: &pb.GossipRequest{Certs: batch}}}); err != nil {
			return Row{}, err
		}
	}
	flooded := len(target.Members())

	// A newcomer joins through another supernode.
	nc := scfg
	nc.BootstrapPeers = []peer.AddrInfo{sns[1].AddrInfo()}
	nh, err := lab.Host()
	if err != nil {
		return Row{}, err
	}
	newcomer, err := supernode.New(nh, nc)
	if err != nil {
		return Row{}, err
	}
	lab.Defer(func() { newcomer.Close() })
	all := append(append([]*supernode.Node(nil), sns...), newcomer)
	usable := func(sn *supernode.Node, p peer.ID) bool {
		for _, m := range sn.Members() {
			if m.ID == p {
				return m.Verified && !m.Down && !m.Leaving
			}
		}
		return false
	}
	joinErr := WaitFor(ctx, 15*time.Second, func() bool {
		for _, a := range all {
			for _, b := range all {
				if !usable(a, b.Host().ID()) {
					return false
				}
			}
		}
		return true
	})
	missing := 0
	for _, a := range all {
		for _, b := range all {
			if !usable(a, b.Host().ID()) {
				missing++
			}
		}
	}
	out := fmt.Sprintf("%d certs minted in %s; the flooded view held %d members; honest pairs not usable after 15 s: %d of %d",
		len(certs), minted.Round(time.Millisecond), flooded, missing, len(all)*len(all))
	if joinErr == nil {
		out += " (every honest supernode usable in every view)"
	}
	return Row{Attempts: len(certs), Unit: "certs", Successes: missing, Outcome: out,
		Bound: "every honest supernode in every view", Pass: missing == 0}, nil
}

// junkCerts mints n supernode certs of throwaway keys at addresses on ip
// where nothing answers, valid for almost the longest lifetime allowed.
func junkCerts(ip string, n int) ([][]byte, error) {
	out := make([][]byte, 0, n)
	now := time.Now()
	for i := range n {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			return nil, err
		}
		a, err := ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/%d", ip, 1+i%60000))
		if err != nil {
			return nil, err
		}
		env, err := protocol.DefaultLimits.SignCert(&protocol.SupernodeCert{Peer: id, Addrs: []ma.Multiaddr{a}, Seq: 1, Issued: now,
			Expires: now.Add(protocol.DefaultLimits.MaxAnnouncementLifetime - time.Hour)}, k)
		if err != nil {
			return nil, err
		}
		out = append(out, env)
	}
	return out, nil
}
