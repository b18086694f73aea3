package attack

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/supernode"
)

// Acceptance point 2: an attacker with k identities in one network prefix,
// their keys ground to be the XOR-closest to chosen CIDs, that accept
// stores, sign receipts and drop everything, hides no CID from any lookup.

// EclipseConfig sizes the eclipse scenario.
type EclipseConfig struct {
	Honest  int       // honest supernodes (default 6)
	R       int       // replication factor (default 3)
	Ks      []int     // Sybil identities per target CID, one run each (default 1, 4, 8)
	Targets int       // CIDs attacked per run (default 4)
	Mode    SybilMode // what Sybils do with fetches
}

// RunEclipse runs one eclipse attack per k on a fresh overlay each.
func RunEclipse(ctx context.Context, cfg EclipseConfig) []Row {
	if cfg.Honest == 0 {
		cfg.Honest = 6
	}
	if cfg.R == 0 {
		cfg.R = 3
	}
	if len(cfg.Ks) == 0 {
		cfg.Ks = []int{1, 4, 8}
	}
	if cfg.Targets == 0 {
		cfg.Targets = 4
	}
	var rows []Row
	for _, k := range cfg.Ks {
		name := fmt.Sprintf("eclipse: %d ground identities per CID in one /32, %s", k, cfg.Mode)
		r, err := runEclipse(ctx, cfg, k)
		if err != nil {
			r = Failed(2, name, err)
		}
		r.Point, r.Attack = 2, name
		rows = append(rows, r)
	}
	return rows
}

func runEclipse(ctx context.Context, cfg EclipseConfig, k int) (Row, error) {
	lab := NewLab()
	defer lab.Close()
	sns, err := lab.Supernodes(ctx, cfg.Honest, SupernodeConfig(cfg.R))
	if err != nil {
		return Row{}, err
	}
	infos := Infos(sns)
	honestIDs := make([]peer.ID, len(sns))
	for i, sn := range sns {
		honestIDs[i] = sn.Host().ID()
	}
	victim, err := lab.Leaf(ctx, LeafConfig(infos[:1]))
	if err != nil {
		return Row{}, err
	}
	var lookers []*leaf.Agent
	for _, i := range []int{2, len(infos) - 1} {
		l, err := lab.Leaf(ctx, LeafConfig(infos[i:i+1]))
		if err != nil {
			return Row{}, err
		}
		lookers = append(lookers, l)
	}

	// The attacker picks its targets and grinds k keys per target, each
	// closer to it than every honest supernode.
	targets := make([]cid.Cid, cfg.Targets)
	var keys []crypto.PrivKey
	tried, ground := 0, time.Duration(0)
	for i := range targets {
		targets[i] = NamedCID(fmt.Sprintf("eclipse/k%d/target%d", k, i))
		g, err := GrindKeys(targets[i].Hash(), honestIDs, k, 1<<20)
		if err != nil {
			return Row{}, err
		}
		keys = append(keys, g.Keys...)
		tried += g.Tried
		ground += g.Elapsed
	}
	crowd, err := lab.StartSybils(FreshIP(), keys, cfg.Mode)
	if err != nil {
		return Row{}, err
	}
	if err := crowd.Join(ctx, infos); err != nil {
		return Row{}, err
	}
	// Wait until every honest view has verified every Sybil: the attacker
	// is in place.
	err = WaitFor(ctx, 60*time.Second, func() bool {
		for _, sn := range sns {
			n := 0
			for _, m := range sn.Members() {
				if crowd.Has(m.ID) && m.Verified && !m.Down {
					n++
				}
			}
			if n < len(keys) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return Row{}, fmt.Errorf("Sybils not admitted: %w", err)
	}
	stock, err := lab.StockClient(ctx, infos[1])
	if err != nil {
		return Row{}, err
	}
	raw, err := lab.Host()
	if err != nil {
		return Row{}, err
	}
	obs := &Observer{Leaves: lookers, Supernodes: sns, Stock: stock, Raw: raw}

	res, err := victim.Announce(ctx, targets)
	if err != nil {
		return Row{}, err
	}
	hidden, sybilSlots, honestCopies := 0, 0, cfg.R
	var hiddenFrom []string
	for _, c := range targets {
		ss := obs.Look(ctx, c)
		for _, s := range ss {
			if len(Showing([]Sighting{s}, IsPeer(victim.Host().ID()))) == 0 {
				hidden++
				hiddenFrom = append(hiddenFrom, s.API)
			}
		}
		_, n := crowd.StoresFor(c.Hash())
		sybilSlots = max(sybilSlots, n)
		copies, err := honestStored(ctx, sns, c, victim.Host().ID())
		if err != nil {
			return Row{}, err
		}
		honestCopies = min(honestCopies, copies)
	}
	attempts := len(targets) * obs.APIs()
	out := fmt.Sprintf("%d Sybils (%d keys ground in %s); Sybils per CID's replica set ≤ %d, honest copies ≥ %d of r=%d, leaf counted %d replicas; hidden in %d of %d lookups",
		len(keys), tried, ground.Round(time.Millisecond), sybilSlots, honestCopies, cfg.R, res.Replicas, hidden, attempts)
	if hidden > 0 {
		out += fmt.Sprintf(" %v", uniq(hiddenFrom))
	}
	return Row{Attempts: attempts, Unit: "lookups", Successes: hidden, Outcome: out, Bound: "0 hidden", Pass: hidden == 0}, nil
}

// honestStored counts the supernodes of sns that hold holder's record of c.
func honestStored(ctx context.Context, sns []*supernode.Node, c cid.Cid, holder peer.ID) (int, error) {
	n := 0
	for _, sn := range sns {
		ids, err := sn.Stored(ctx, c)
		if err != nil {
			return 0, err
		}
		for _, id := range ids {
			if id == holder {
				n++
			}
		}
	}
	return n, nil
}

func uniq(ss []string) []string {
	seen := make(map[string]bool)
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
