package attack

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/supernode"
)

// Acceptance point 1: records that did not come through our verified path
// (unsigned ADD_PROVIDER, stores without a supernode session, forged,
// expired, replayed and withdrawn-then-replayed announcements, addresses
// planted for a real leaf) are visible through none of the ways a CID is
// looked up.

// InjectionConfig sizes the injection scenario.
type InjectionConfig struct {
	Supernodes int // honest supernodes (default 5)
	R          int // replication factor (default 2: a window of 2r > r supernodes accepts a replica store)
}

// NamedCID is CIDv1 raw over sha2-256 of name.
func NamedCID(name string) cid.Cid {
	h, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		panic(err) // sha2-256 of any input cannot fail
	}
	return cid.NewCidV1(cid.Raw, h)
}

type injection struct {
	lab    *Lab
	sns    []*supernode.Node
	infos  []peer.AddrInfo
	victim *leaf.Agent
	obs    *Observer
	noKad  *Observer // leaf and supernode lookups only (they mirror nothing into kad)
}

// RunInjection runs every point-1 attack against a fresh overlay.
func RunInjection(ctx context.Context, cfg InjectionConfig) ([]Row, error) {
	if cfg.Supernodes == 0 {
		cfg.Supernodes = 5
	}
	if cfg.R == 0 {
		cfg.R = 2
	}
	lab := NewLab()
	defer lab.Close()
	sns, err := lab.Supernodes(ctx, cfg.Supernodes, SupernodeConfig(cfg.R))
	if err != nil {
		return nil, err
	}
	infos := Infos(sns)
	in := &injection{lab: lab, sns: sns, infos: infos}
	if in.victim, err = lab.Leaf(ctx, LeafConfig(infos[:1])); err != nil {
		return nil, err
	}
	var lookers []*leaf.Agent
	for _, i := range []int{2, len(infos) - 1} {
		l, err := lab.Leaf(ctx, LeafConfig(infos[i:i+1]))
		if err != nil {
			return nil, err
		}
		lookers = append(lookers, l)
	}
	stock, err := lab.StockClient(ctx, infos[1])
	if err != nil {
		return nil, err
	}
	raw, err := lab.Host()
	if err != nil {
		return nil, err
	}
	in.obs = &Observer{Leaves: lookers, Supernodes: sns, Stock: stock, Raw: raw}
	in.noKad = &Observer{Leaves: lookers, Supernodes: sns}

	var rows []Row
	for _, a := range []struct {
		name string
		run  func(context.Context) (Row, error)
	}{
		{"control: an honest leaf's announcement", in.control},
		{"stock kad-dht peer: Provide", in.stockProvide},
		{"raw ADD_PROVIDER: self at /ip4/8.8.8.8/tcp/53", in.rawAddProviderSelf},
		{"raw ADD_PROVIDER naming a real leaf", in.rawAddProviderVictim},
		{"ADD_PROVIDER on the supernode rendezvous key (non-supernode)", in.rendezvous},
		{"replica store without a supernode session", in.unsessioned},
		{"forged announcements (leaf protocol)", in.forgedLeaf},
		{"forged announcements and proofs (replica store, self-made cert)", in.forgedStore},
		{"expired announcement replayed", in.expiredReplay},
		{"withdrawn announcement replayed", in.withdrawnReplay},
		{"address planted for a real leaf (leaf gossip)", in.plantedAddress},
	} {
		r, err := a.run(ctx)
		if err != nil {
			r = Failed(1, a.name, err)
		}
		r.Point, r.Attack = 1, a.name
		rows = append(rows, r)
	}
	return rows, nil
}

// visibleRow is the row for an attack whose success is any sighting.
func visibleRow(attempts int, unit string, sightings []Sighting, apis int, extra string) Row {
	out := fmt.Sprintf("visible through %d of %d lookup APIs", len(sightings), apis)
	if len(sightings) > 0 {
		out += fmt.Sprintf(" %v", Names(sightings))
	}
	if extra != "" {
		out = extra + "; " + out
	}
	return Row{Attempts: attempts, Unit: unit, Successes: len(sightings), Outcome: out, Bound: "0 visible", Pass: len(sightings) == 0}
}

func (in *injection) control(ctx context.Context) (Row, error) {
	c := NamedCID("inject/control")
	if _, err := in.victim.Announce(ctx, []cid.Cid{c}); err != nil {
		return Row{}, err
	}
	seen := Showing(in.obs.Look(ctx, c), IsPeer(in.victim.Host().ID()))
	n := in.obs.APIs()
	return Row{Attempts: n, Unit: "APIs", Successes: len(seen), Bound: "visible through every API",
		Outcome: fmt.Sprintf("the honest record is visible through %d of %d APIs (every observation below can see a record)", len(seen), n),
		Pass:    len(seen) == n}, nil
}

func (in *injection) kadRefused() int64 {
	var n int64
	for _, sn := range in.sns {
		n += sn.Stats().KadRefused
	}
	return n
}

func (in *injection) stockProvide(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	d, err := dht.New(h, dht.Mode(dht.ModeServer), dht.ProtocolPrefix(protocol.DHTPrefix), dht.BootstrapPeers(in.infos...))
	if err != nil {
		return Row{}, err
	}
	in.lab.Defer(func() { d.Close() })
	for _, ai := range in.infos {
		if err := h.Connect(ctx, ai); err != nil {
			return Row{}, err
		}
	}
	if err := WaitFor(ctx, 10*time.Second, func() bool { return d.RoutingTable().Size() > 0 }); err != nil {
		return Row{}, err
	}
	before := in.kadRefused()
	c := NamedCID("inject/stock-provide")
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	perr := d.Provide(pctx, c, true)
	cancel()
	_ = WaitFor(ctx, 2*time.Second, func() bool { return in.kadRefused() > before })
	sent := int(in.kadRefused() - before)
	extra := fmt.Sprintf("%d ADD_PROVIDERs reached supernodes, all neutralised", sent)
	if perr != nil {
		extra += fmt.Sprintf(" (Provide: %v)", perr)
	}
	return visibleRow(sent, "ADD_PROVIDER", Showing(in.obs.Look(ctx, c), IsPeer(h.ID())), in.obs.APIs(), extra), nil
}

var (
	plantedAddr = ma.StringCast("/ip4/6.6.6.6/tcp/6666")
	dnsAddr     = ma.StringCast("/ip4/8.8.8.8/tcp/53")
)

func hasAddr(want ma.Multiaddr) func(peer.AddrInfo) bool {
	return func(ai peer.AddrInfo) bool {
		for _, a := range ai.Addrs {
			if a.Equal(want) {
				return true
			}
		}
		return false
	}
}

func either(fs ...func(peer.AddrInfo) bool) func(peer.AddrInfo) bool {
	return func(ai peer.AddrInfo) bool {
		for _, f := range fs {
			if f(ai) {
				return true
			}
		}
		return false
	}
}

func (in *injection) rawAddProviderSelf(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	c := NamedCID("inject/raw-add-provider")
	sent := 0
	for _, ai := range in.infos {
		if err := KadAddProvider(ctx, h, ai, c.Hash(), h.ID(), []ma.Multiaddr{dnsAddr}); err != nil {
			return Row{}, err
		}
		sent++
	}
	return visibleRow(sent, "ADD_PROVIDER", Showing(in.obs.Look(ctx, c), either(IsPeer(h.ID()), hasAddr(dnsAddr))), in.obs.APIs(), ""), nil
}

func (in *injection) rawAddProviderVictim(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	c := NamedCID("inject/raw-add-provider-victim")
	sent := 0
	for _, ai := range in.infos {
		if err := KadAddProvider(ctx, h, ai, c.Hash(), in.victim.Host().ID(), []ma.Multiaddr{plantedAddr}); err != nil {
			return Row{}, err
		}
		sent++
	}
	return visibleRow(sent, "ADD_PROVIDER", Showing(in.obs.Look(ctx, c), either(IsPeer(in.victim.Host().ID()), hasAddr(plantedAddr))), in.obs.APIs(), ""), nil
}

// rendezvous: a non-supernode puts itself on the supernode rendezvous key;
// it must appear neither in kad answers for that key nor in the
// supernodes' discovery answers.
func (in *injection) rendezvous(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	key := protocol.SupernodeRendezvous.Hash()
	sent := 0
	for _, ai := range in.infos {
		if err := KadAddProvider(ctx, h, ai, key, h.ID(), h.Addrs()); err != nil {
			return Row{}, err
		}
		sent++
	}
	ss := in.obs.Look(ctx, protocol.SupernodeRendezvous)
	asker, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	members := 0
	for i, ai := range in.infos {
		lc, err := DialLeaf(ctx, asker, ai)
		if err != nil {
			return Row{}, err
		}
		got, err := lc.Discover()
		lc.Close()
		if err != nil {
			return Row{}, err
		}
		ss = append(ss, Sighting{API: fmt.Sprintf("supernode%d.discovery", i), Holders: got})
		members = max(members, len(got))
	}
	stockFound := 0
	for _, s := range ss {
		if s.API == "stock.FindProvidersAsync" {
			stockFound = len(s.Holders)
		}
	}
	extra := fmt.Sprintf("stock client found %d supernodes on the key, discovery named up to %d", stockFound, members)
	return visibleRow(sent, "ADD_PROVIDER", Showing(ss, IsPeer(h.ID())), len(ss), extra), nil
}

// stored reports whether a replica's answer stored anything.
func stored(resp *pb.PeerResponse) (bool, error) {
	if resp.Status != pb.Status_OK {
		return false, nil
	}
	r, err := protocol.DefaultLimits.OpenReceipt(resp.GetStore().GetReceipt())
	if err != nil {
		return false, err
	}
	return len(r.Indices) > 0, nil
}

// storeEverywhere sends one replica store to every supernode on its own
// stream (after a hello with a self-made cert when hello is set) and
// counts the stores answered with a receipt that stored something.
func (in *injection) storeEverywhere(ctx context.Context, h host.Host, hello bool, env []byte, entries []*pb.StoreEntry) (sent, ok int, err error) {
	for _, ai := range in.infos {
		pc, err := DialPeer(ctx, h, ai)
		if err != nil {
			return sent, ok, err
		}
		if hello {
			if resp, err := pc.Hello(h); err != nil || resp.Status != pb.Status_OK {
				pc.Close()
				return sent, ok, fmt.Errorf("hello refused: %v %v", err, resp.GetError())
			}
		}
		resp, err := pc.Store(env, entries)
		pc.Close()
		if err != nil {
			return sent, ok, err
		}
		sent++
		if s, _ := stored(resp); s {
			ok++
		}
	}
	return sent, ok, nil
}

func (in *injection) unsessioned(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	c := NamedCID("inject/unsessioned")
	env, err := SealOwn(h, []cid.Cid{c}, 1, time.Hour, false)
	if err != nil {
		return Row{}, err
	}
	sent, ok, err := in.storeEverywhere(ctx, h, false, env, Entries([]cid.Cid{c}))
	if err != nil {
		return Row{}, err
	}
	r := visibleRow(sent, "stores", Showing(in.obs.Look(ctx, c), IsPeer(h.ID())), in.obs.APIs(),
		fmt.Sprintf("stored by %d of %d supernodes", ok, sent))
	r.Successes += ok
	r.Pass = r.Successes == 0
	return r, nil
}

// forgedLeaf: through the leaf protocol, an attached attacker sends an
// announcement naming the victim signed with its own key, one with a
// broken signature, and its own valid one with CIDs the root does not
// cover.
func (in *injection) forgedLeaf(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	lc, err := DialLeaf(ctx, h, in.infos[0])
	if err != nil {
		return Row{}, err
	}
	defer lc.Close()
	if resp, err := lc.Attach(); err != nil || resp.Status != pb.Status_OK {
		return Row{}, fmt.Errorf("attach: %v %v", err, resp.GetError())
	}
	key := h.Peerstore().PrivKey(h.ID())
	victim := in.victim.Host().ID()
	cVictim, cBroken, cUncovered, cSigned := NamedCID("inject/forged-victim"), NamedCID("inject/forged-broken"),
		NamedCID("inject/forged-uncovered"), NamedCID("inject/forged-signed")
	exp := time.Now().Add(time.Hour)
	forged, err := Seal(Signed{Peer: victim, Key: key, Addrs: []ma.Multiaddr{plantedAddr}, Seq: 1, Expires: exp}, []cid.Cid{cVictim})
	if err != nil {
		return Row{}, err
	}
	broken, err := SealOwn(h, []cid.Cid{cBroken}, 2, time.Hour, false)
	if err != nil {
		return Row{}, err
	}
	broken[len(broken)-1] ^= 0xff
	own, err := SealOwn(h, []cid.Cid{cSigned}, 3, time.Hour, false)
	if err != nil {
		return Row{}, err
	}
	accepted := 0
	for _, m := range []struct {
		env  []byte
		cids []cid.Cid
	}{{forged, []cid.Cid{cVictim}}, {broken, []cid.Cid{cBroken}}, {own, []cid.Cid{cUncovered}}} {
		resp, err := lc.Announce(m.env, m.cids)
		if err != nil {
			return Row{}, err
		}
		if resp.Status == pb.Status_OK {
			accepted++
		}
	}
	var seen []Sighting
	seen = append(seen, Showing(in.obs.Look(ctx, cVictim), IsPeer(victim))...)
	seen = append(seen, Showing(in.obs.Look(ctx, cBroken), IsPeer(h.ID()))...)
	seen = append(seen, Showing(in.obs.Look(ctx, cUncovered), IsPeer(h.ID()))...)
	r := visibleRow(3, "announces", seen, 3*in.obs.APIs(), fmt.Sprintf("%d of 3 accepted", accepted))
	r.Successes += accepted
	r.Pass = r.Successes == 0
	return r, nil
}

// forgedStore: with a supernode session of its own making, the attacker
// sends replicas an announcement naming the victim signed with its key,
// and its own valid announcement with an entry for a CID it does not
// cover (a proof for another CID).
func (in *injection) forgedStore(ctx context.Context) (Row, error) {
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	victim := in.victim.Host().ID()
	cVictim, cSigned, cSmuggled := NamedCID("inject/store-forged-victim"), NamedCID("inject/store-signed"), NamedCID("inject/store-smuggled")
	forged, err := Seal(Signed{Peer: victim, Key: h.Peerstore().PrivKey(h.ID()), Addrs: []ma.Multiaddr{plantedAddr}, Seq: 1,
		Expires: time.Now().Add(time.Hour)}, []cid.Cid{cVictim})
	if err != nil {
		return Row{}, err
	}
	s1, ok1, err := in.storeEverywhere(ctx, h, true, forged, Entries([]cid.Cid{cVictim}))
	if err != nil {
		return Row{}, err
	}
	own, err := SealOwn(h, []cid.Cid{cSigned}, 2, time.Hour, false)
	if err != nil {
		return Row{}, err
	}
	smuggle := Entries([]cid.Cid{cSigned})
	smuggle[0].Cid = cSmuggled.Bytes() // the proof is cSigned's
	s2, ok2, err := in.storeEverywhere(ctx, h, true, own, smuggle)
	if err != nil {
		return Row{}, err
	}
	var seen []Sighting
	seen = append(seen, Showing(in.obs.Look(ctx, cVictim), IsPeer(victim))...)
	seen = append(seen, Showing(in.obs.Look(ctx, cSmuggled), IsPeer(h.ID()))...)
	r := visibleRow(s1+s2, "stores", seen, 2*in.obs.APIs(), fmt.Sprintf("stored by %d of %d", ok1+ok2, s1+s2))
	r.Successes += ok1 + ok2
	r.Pass = r.Successes == 0
	return r, nil
}

// expiredReplay: a leaf's genuine announcement that expired is replayed
// by an attacker through the leaf protocol and as replica stores.
func (in *injection) expiredReplay(ctx context.Context) (Row, error) {
	honest, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	c := NamedCID("inject/expired")
	lc, err := DialLeaf(ctx, honest, in.infos[0])
	if err != nil {
		return Row{}, err
	}
	defer lc.Close()
	if resp, err := lc.Attach(); err != nil || resp.Status != pb.Status_OK {
		return Row{}, fmt.Errorf("attach: %v %v", err, resp.GetError())
	}
	const life = 2 * time.Second
	env, err := SealOwn(honest, []cid.Cid{c}, 1, life, false)
	if err != nil {
		return Row{}, err
	}
	expires := time.Now().Add(life)
	if resp, err := lc.Announce(env, []cid.Cid{c}); err != nil || resp.Status != pb.Status_OK {
		return Row{}, fmt.Errorf("honest short-lived announce: %v %v", err, resp.GetError())
	}
	if len(Showing(in.noKad.Look(ctx, c), IsPeer(honest.ID()))) == 0 {
		return Row{}, errors.New("the short-lived record was never visible")
	}
	time.Sleep(time.Until(expires) + 100*time.Millisecond) // let the signed expiry pass
	attacker, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	sent, ok, err := in.storeEverywhere(ctx, attacker, true, env, Entries([]cid.Cid{c}))
	if err != nil {
		return Row{}, err
	}
	alc, err := DialLeaf(ctx, attacker, in.infos[1])
	if err != nil {
		return Row{}, err
	}
	defer alc.Close()
	if _, err := alc.Attach(); err != nil {
		return Row{}, err
	}
	if resp, err := alc.Announce(env, []cid.Cid{c}); err != nil {
		return Row{}, err
	} else if resp.Status == pb.Status_OK {
		ok++
	}
	sent++
	r := visibleRow(sent, "replays", Showing(in.obs.Look(ctx, c), IsPeer(honest.ID())), in.obs.APIs(),
		fmt.Sprintf("accepted by %d of %d", ok, sent))
	r.Successes += ok
	r.Pass = r.Successes == 0
	return r, nil
}

// withdrawnReplay: an attacker captures a leaf's genuine announcement from
// a lookup answer; the leaf withdraws it; the attacker replays it to every
// supernode as replica stores (with a self-made supernode cert) and
// through the leaf protocol.
func (in *injection) withdrawnReplay(ctx context.Context) (Row, error) {
	c := NamedCID("inject/withdrawn")
	if _, err := in.victim.Announce(ctx, []cid.Cid{c}); err != nil {
		return Row{}, err
	}
	attacker, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	lc, err := DialLeaf(ctx, attacker, in.infos[len(in.infos)-1])
	if err != nil {
		return Row{}, err
	}
	defer lc.Close()
	if resp, err := lc.Attach(); err != nil || resp.Status != pb.Status_OK {
		return Row{}, fmt.Errorf("attach: %v %v", err, resp.GetError())
	}
	hs, err := lc.Lookup(c)
	if err != nil {
		return Row{}, err
	}
	var captured *pb.Holder
	for _, hd := range hs {
		if v, err := protocol.DefaultLimits.OpenHolder(hd, c.Hash(), time.Now()); err == nil && v.ID == in.victim.Host().ID() {
			captured = hd
		}
	}
	if captured == nil {
		return Row{}, errors.New("the victim's announcement could not be captured")
	}
	if _, err := in.victim.Withdraw(ctx, []cid.Cid{c}); err != nil {
		return Row{}, err
	}
	entries := []*pb.StoreEntry{{Cid: captured.Cid, Index: captured.Index, Proof: captured.Proof}}
	sent, ok, err := in.storeEverywhere(ctx, attacker, true, captured.Announcement, entries)
	if err != nil {
		return Row{}, err
	}
	if resp, err := lc.Announce(captured.Announcement, []cid.Cid{c}); err != nil {
		return Row{}, err
	} else if resp.Status == pb.Status_OK {
		ok++
	}
	sent++
	seen := Showing(in.obs.Look(ctx, c), IsPeer(in.victim.Host().ID()))
	return visibleRow(sent, "replays", seen, in.obs.APIs(), fmt.Sprintf("stored by %d of %d", ok, sent)), nil
}

// plantedAddress: attached leaves tell supernodes about "supernodes" they
// know (gossip that merges split overlays); an attacker names a real
// leaf's peer ID at an address of its choosing. Stock kad-dht answers
// GET_PROVIDERS with the peerstore's addresses for a provider, so an
// address that lands there would be handed to every stock client (a
// reflection attack on 6.6.6.6).
func (in *injection) plantedAddress(ctx context.Context) (Row, error) {
	c := NamedCID("inject/planted")
	if _, err := in.victim.Announce(ctx, []cid.Cid{c}); err != nil {
		return Row{}, err
	}
	h, err := in.lab.Host()
	if err != nil {
		return Row{}, err
	}
	planted := protocol.DefaultLimits.PeerToPB(peer.AddrInfo{ID: in.victim.Host().ID(), Addrs: []ma.Multiaddr{plantedAddr}})
	sent := 0
	for _, ai := range in.infos {
		lc, err := DialLeaf(ctx, h, ai)
		if err != nil {
			return Row{}, err
		}
		_, err = lc.Attach(planted)
		lc.Close()
		if err != nil {
			return Row{}, err
		}
		sent++
	}
	// learn() takes the gossip in the background: wait (bounded) until a
	// supernode's peerstore holds the planted address, or give up.
	victim := in.victim.Host().ID()
	held := func() bool {
		for _, sn := range in.sns {
			if hasAddr(plantedAddr)(sn.Host().Peerstore().PeerInfo(victim)) {
				return true
			}
		}
		return false
	}
	landed := time.Now()
	_ = WaitFor(ctx, 2*time.Second, held)
	isPlanted := func(ai peer.AddrInfo) bool { return ai.ID == victim && hasAddr(plantedAddr)(ai) }
	seen := Showing(in.obs.Look(ctx, c), isPlanted)
	// A supernode dials a peer a leaf named for up to 10 s; what it was
	// handed must not outlive that.
	gone := WaitFor(ctx, 15*time.Second, func() bool { return !held() }) == nil
	window := time.Since(landed)
	apis := in.obs.APIs()
	for i, sn := range in.sns {
		addrs, err := KadFindPeer(ctx, in.obs.Raw, sn.AddrInfo(), victim)
		if err != nil {
			return Row{}, err
		}
		apis++
		if isPlanted(peer.AddrInfo{ID: victim, Addrs: addrs}) {
			seen = append(seen, Sighting{API: fmt.Sprintf("supernode%d.FIND_NODE", i)})
		}
	}
	extra := fmt.Sprintf("planted address left every peerstore within %s", window.Round(100*time.Millisecond))
	if !gone {
		extra = fmt.Sprintf("planted address still in a peerstore after %s", window.Round(100*time.Millisecond))
	}
	return visibleRow(sent, "attaches", seen, apis, extra), nil
}
