package attack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Answer stuffing: a lookup answer holds at most Limits.MaxLookupResults
// (50) holders. Anyone may announce that it holds any CID (as on any
// tracker), so an attacker with more identities than that, on one prefix,
// announces a victim CID from all of them (at 6.6.6.6) and looks whether
// the one honest holder still comes back. Its identities are ground to
// sort before the honest holder in a replica's store (records are listed
// by leaf ID). Replicas spread answers over the network prefixes records
// came from, so the one prefix gets its share and the honest holder its.

// StuffingConfig sizes answer stuffing.
type StuffingConfig struct {
	Identities int // attacker identities on one /32 (default 60)
	Lookups    int // lookups per observing API (default 5)
}

// RunStuffing runs answer stuffing.
func RunStuffing(ctx context.Context, cfg StuffingConfig) Row {
	if cfg.Identities == 0 {
		cfg.Identities = 60
	}
	if cfg.Lookups == 0 {
		cfg.Lookups = 5
	}
	name := fmt.Sprintf("answer stuffing: %d identities on one /32 announce a CID one honest leaf holds", cfg.Identities)
	r, err := runStuffing(ctx, cfg)
	if err != nil {
		r = Failed(2, name, err)
	}
	r.Point, r.Attack = 2, name
	return r
}

func runStuffing(ctx context.Context, cfg StuffingConfig) (Row, error) {
	lab := NewLab()
	defer lab.Close()
	sns, err := lab.Supernodes(ctx, 4, SupernodeConfig(2))
	if err != nil {
		return Row{}, err
	}
	infos := Infos(sns)
	honest, err := lab.Leaf(ctx, LeafConfig(infos[:1]))
	if err != nil {
		return Row{}, err
	}
	target := NamedCID("stuffing/target")
	if _, err := honest.Announce(ctx, []cid.Cid{target}); err != nil {
		return Row{}, err
	}
	var lookers []*leaf.Agent
	for _, i := range []int{1, 3} {
		l, err := lab.Leaf(ctx, LeafConfig(infos[i:i+1]))
		if err != nil {
			return Row{}, err
		}
		lookers = append(lookers, l)
	}
	obs := &Observer{Leaves: lookers, Supernodes: sns}

	ip := FreshIP()
	hb := base64.RawURLEncoding.EncodeToString([]byte(honest.Host().ID()))
	accepted := 0
	for i := range cfg.Identities {
		k, err := keySortingBefore(hb)
		if err != nil {
			return Row{}, err
		}
		h, err := lab.HostAt(ip, k)
		if err != nil {
			return Row{}, err
		}
		lc, err := DialLeaf(ctx, h, infos[i%len(infos)])
		if err != nil {
			return Row{}, err
		}
		if resp, err := lc.Attach(); err != nil || resp.Status != pb.Status_OK {
			lc.Close()
			continue
		}
		env, err := Seal(Signed{Peer: h.ID(), Key: k, Addrs: []ma.Multiaddr{PlantedAddr}, Seq: 1, Expires: time.Now().Add(time.Hour)},
			[]cid.Cid{target})
		if err != nil {
			return Row{}, err
		}
		resp, err := lc.Announce(env, []cid.Cid{target})
		lc.Close()
		if err == nil && resp.Status == pb.Status_OK {
			accepted++
		}
	}
	hidden, total := 0, 0
	var where []string
	for range cfg.Lookups {
		for _, s := range obs.Look(ctx, target) {
			total++
			if len(Showing([]Sighting{s}, IsPeer(honest.Host().ID()))) == 0 {
				hidden++
				where = append(where, s.API)
			}
		}
	}
	out := fmt.Sprintf("%d junk holders accepted (answers hold at most %d); the honest holder was missing from %d of %d lookups",
		accepted, protocol.DefaultLimits.MaxLookupResults, hidden, total)
	if hidden > 0 {
		out += fmt.Sprintf(" %v", uniq(where))
	}
	// Holders are self-asserted (as on any tracker) and an answer is
	// bounded, so answers are spread over the prefixes records came from
	// (recordstore.SpreadByOrigin); see docs/security.md.
	return Row{Attempts: total, Unit: "lookups", Successes: hidden, Outcome: out, Bound: "0 hidden", Pass: hidden == 0}, nil
}

// keySortingBefore grinds an Ed25519 key whose peer ID, base64url as a
// replica's store keys it, sorts before b.
func keySortingBefore(b string) (crypto.PrivKey, error) {
	for range 1 << 16 {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		id, err := peer.IDFromPrivateKey(k)
		if err != nil {
			return nil, err
		}
		if base64.RawURLEncoding.EncodeToString([]byte(id)) < b {
			return k, nil
		}
	}
	return nil, fmt.Errorf("%w: no key sorts before %s", ErrGrind, b)
}
