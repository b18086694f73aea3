package attack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/supertracker/supertracker/leaf"
	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// Acceptance point 3: a lying primary. Liar is a fake supernode that
// speaks the leaf protocol to real leaf.Agents: it attaches them, captures
// every announcement they send, and answers lookups and announcements with
// whatever lie it is set to tell. HolderLies and ReceiptLies are the
// catalogue; the leaf must reject every one of them.

// Liar is a fake supernode.
type Liar struct {
	Host host.Host

	mu          sync.Mutex
	ttl         time.Duration
	announce    func(env []byte, n int) *pb.AnnounceResponse
	announceFor map[peer.ID]func(env []byte, n int) *pb.AnnounceResponse
	lookup      func(key []byte) []*pb.Holder
	captured    []*Captured
}

// Captured is an announcement a leaf sent the liar.
type Captured struct {
	Envelope []byte
	CIDs     []cid.Cid
	Ann      *protocol.SignedAnnouncement
	Tree     *protocol.CIDTree
}

// Holder is the genuine lookup answer entry for CID i of c.
func (c *Captured) Holder(i int) *pb.Holder {
	proof, _ := c.Tree.Proof(i)
	return protocol.HolderToPB(c.Envelope, c.CIDs[i], i, proof)
}

// StartLiar starts a fake supernode on an address of its own. It tells
// leaves that attach the record TTL ttl (their signed expiries follow it),
// and by default answers honestly for itself: a receipt of its own for
// every announcement, no holders.
func (l *Lab) StartLiar(ttl time.Duration) (*Liar, error) {
	h, err := l.Host()
	if err != nil {
		return nil, err
	}
	lr := &Liar{Host: h, ttl: ttl, announceFor: make(map[peer.ID]func([]byte, int) *pb.AnnounceResponse)}
	lr.announce = func(env []byte, n int) *pb.AnnounceResponse { return lr.HonestAnswer(env, n) }
	lr.lookup = func([]byte) []*pb.Holder { return nil }
	h.SetStreamHandler(protocol.LeafProtocol, lr.serve)
	return lr, nil
}

// AddrInfo is the liar's peer ID and addresses.
func (lr *Liar) AddrInfo() peer.AddrInfo {
	return peer.AddrInfo{ID: lr.Host.ID(), Addrs: lr.Host.Addrs()}
}

// SetTTL changes the record TTL told to leaves that attach from now on.
func (lr *Liar) SetTTL(d time.Duration) {
	lr.mu.Lock()
	lr.ttl = d
	lr.mu.Unlock()
}

// SetAnnounce sets the answer to announcements (env: the leaf's envelope, n
// its CIDs).
func (lr *Liar) SetAnnounce(f func(env []byte, n int) *pb.AnnounceResponse) {
	lr.mu.Lock()
	lr.announce = f
	lr.mu.Unlock()
}

// SetAnnounceFor sets the answer to announcements from leaf p alone (nil:
// back to the general answer).
func (lr *Liar) SetAnnounceFor(p peer.ID, f func(env []byte, n int) *pb.AnnounceResponse) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if f == nil {
		delete(lr.announceFor, p)
		return
	}
	lr.announceFor[p] = f
}

// SetLookup sets the answer to lookups (key: the multihash looked up).
func (lr *Liar) SetLookup(f func(key []byte) []*pb.Holder) {
	lr.mu.Lock()
	lr.lookup = f
	lr.mu.Unlock()
}

// Captured returns the announcements leaf p sent (oldest first), of
// withdrawals when withdraw is set.
func (lr *Liar) Captured(p peer.ID, withdraw bool) []*Captured {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	var out []*Captured
	for _, c := range lr.captured {
		if c.Ann.Peer == p && c.Ann.Withdraw == withdraw {
			out = append(out, c)
		}
	}
	return out
}

// Receipt is the liar's own genuine receipt for env covering indices.
func (lr *Liar) Receipt(env []byte, indices []uint32) []byte {
	return SignedReceipt(lr.Host.Peerstore().PrivKey(lr.Host.ID()), sha256.Sum256(env), indices)
}

// HonestAnswer is what an honest sole supernode answers: its own receipt
// for all n CIDs, one replica each.
func (lr *Liar) HonestAnswer(env []byte, n int) *pb.AnnounceResponse {
	return &pb.AnnounceResponse{Accepted: uint32(n), Replicas: 1, Target: 1, CidReplicas: repeat(1, n),
		Receipts: [][]byte{lr.Receipt(env, allIndices(n))}}
}

// SignedReceipt is a receipt signed by k (naming k's peer) for the
// announcement hash h.
func SignedReceipt(k crypto.PrivKey, h [32]byte, indices []uint32) []byte {
	id, _ := peer.IDFromPrivateKey(k)
	b, err := protocol.DefaultLimits.SignReceipt(&protocol.Receipt{Replica: id, Announcement: h, Indices: indices, At: time.Now()}, k)
	if err != nil {
		panic(err) // k is id's key: cannot fail
	}
	return b
}

func allIndices(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

func repeat(v uint32, n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func (lr *Liar) serve(s network.Stream) {
	defer s.Close()
	r := protocol.DefaultLimits.NewReader(s)
	for {
		_ = s.SetReadDeadline(time.Now().Add(time.Minute))
		frame, err := r.ReadFrame()
		if err != nil {
			s.Reset()
			return
		}
		req, err := protocol.DefaultLimits.DecodeRequest(frame)
		if err != nil {
			s.Reset()
			return
		}
		resp := lr.answer(req)
		resp.Id = req.Id
		_ = s.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := protocol.WriteMsg(s, resp); err != nil {
			s.Reset()
			return
		}
	}
}

func (lr *Liar) answer(req *protocol.Request) *pb.Response {
	lr.mu.Lock()
	ttl, announce, lookup := lr.ttl, lr.announce, lr.lookup
	lr.mu.Unlock()
	load := &pb.Load{Leaves: 1, MaxLeaves: 100, Supernodes: 1}
	switch b := req.Body.(type) {
	case *pb.Request_Attach:
		return &pb.Response{Body: &pb.Response_Attach{Attach: &pb.AttachResponse{Load: load,
			RecordTtlMs: ttl.Milliseconds(), HeartbeatIntervalMs: 250}}}
	case *pb.Request_Heartbeat:
		return &pb.Response{Body: &pb.Response_Heartbeat{Heartbeat: &pb.HeartbeatResponse{Load: load}}}
	case *pb.Request_Detach:
		return &pb.Response{}
	case *pb.Request_Supernodes:
		return &pb.Response{Body: &pb.Response_Supernodes{Supernodes: &pb.SupernodesResponse{
			Supernodes: []*pb.Peer{protocol.DefaultLimits.PeerToPB(lr.AddrInfo())}}}}
	case *pb.Request_Announce:
		b2, err := protocol.DefaultLimits.OpenBatch(b.Announce.Envelope, b.Announce.Cids, time.Now())
		if err == nil {
			lr.mu.Lock()
			lr.captured = append(lr.captured, &Captured{Envelope: b.Announce.Envelope, CIDs: b2.CIDs, Ann: b2.SignedAnnouncement, Tree: b2.Tree})
			if f := lr.announceFor[b2.Peer]; f != nil {
				announce = f
			}
			lr.mu.Unlock()
		}
		return &pb.Response{Body: &pb.Response_Announce{Announce: announce(b.Announce.Envelope, len(b.Announce.Cids))}}
	case *pb.Request_Lookup:
		return &pb.Response{Body: &pb.Response_Lookup{Lookup: &pb.LookupResponse{Holders: lookup(req.CID.Hash())}}}
	}
	return &pb.Response{Status: pb.Status_BAD_REQUEST, Error: "unknown request"}
}

// Material is what a lying primary captured from real leaves: a live
// announcement of at least two CIDs, a withdrawal of one of them, and an
// announcement that has expired.
type Material struct {
	Victim     peer.ID
	Live       *Captured
	Withdrawal *Captured
	Expired    *Captured
}

// HolderLie is one invented lookup answer for the multihash Key; a leaf
// that looks Key up must get no holder from it.
type HolderLie struct {
	Name    string
	Key     cid.Cid
	Holders []*pb.Holder
}

// PlantedAddr is the address lies put holders at.
var PlantedAddr = ma.StringCast("/ip4/6.6.6.6/tcp/6666")

// HolderLies is the catalogue of invented holders, built from captured
// material: never is a CID the victim never announced.
func (lr *Liar) HolderLies(m Material, never cid.Cid) ([]HolderLie, error) {
	key := lr.Host.Peerstore().PrivKey(lr.Host.ID())
	invented, err := Seal(Signed{Peer: m.Victim, Key: key, Addrs: []ma.Multiaddr{PlantedAddr}, Seq: m.Live.Ann.Seq + 1,
		Expires: time.Now().Add(time.Hour)}, []cid.Cid{never})
	if err != nil {
		return nil, err
	}
	x0 := m.Live.CIDs[0]

	uncovered := m.Live.Holder(0)
	uncovered.Cid = never.Bytes()

	badProof := m.Live.Holder(0)
	badProof.Proof = append([][]byte(nil), badProof.Proof...)
	bad := append([]byte(nil), badProof.Proof[0]...)
	bad[0] ^= 0xff
	badProof.Proof[0] = bad

	wrongIndex := m.Live.Holder(0)
	wrongIndex.Index = 1

	other := m.Live.Holder(1) // x1's genuine entry, answered for x0

	var withdrawn *pb.Holder
	for i, c := range m.Withdrawal.CIDs {
		if c.Equals(x0) {
			withdrawn = m.Withdrawal.Holder(i)
		}
	}
	if withdrawn == nil {
		return nil, fmt.Errorf("attack: the withdrawal does not cover %s", x0)
	}
	expired := m.Expired.Holder(0)

	brokenSig := m.Live.Holder(0)
	brokenSig.Announcement = append([]byte(nil), brokenSig.Announcement...)
	brokenSig.Announcement[len(brokenSig.Announcement)-1] ^= 0xff

	return []HolderLie{
		{"the victim's name signed with the liar's key, at 6.6.6.6", never, []*pb.Holder{protocol.HolderToPB(invented, never, 0, nil)}},
		{"a real announcement for a CID it does not cover", never, []*pb.Holder{uncovered}},
		{"a real announcement with a wrong proof", x0, []*pb.Holder{badProof}},
		{"a real announcement with the proof of another index", x0, []*pb.Holder{wrongIndex}},
		{"a real holder of another CID", x0, []*pb.Holder{other}},
		{"a real announcement with a broken signature", x0, []*pb.Holder{brokenSig}},
		{"the victim's withdrawal", x0, []*pb.Holder{withdrawn}},
		{"an expired announcement of the victim", m.Expired.CIDs[0], []*pb.Holder{expired}},
		{"garbage", never, []*pb.Holder{{Announcement: []byte("garbage"), Cid: never.Bytes()}}},
	}, nil
}

// ReceiptLie is one fabricated announce answer; a leaf must count at most
// MaxReplicas replicas from it (0: it must not count the announcement as
// stored at all).
type ReceiptLie struct {
	Name        string
	MaxReplicas int
	Answer      func(env []byte, n int) *pb.AnnounceResponse
	// Limitation marks a lie the leaf cannot see through (see
	// docs/security.md); MaxReplicas is then what it is known to count.
	Limitation bool
}

// ReceiptLies is the catalogue of fabricated replica counts: every answer
// claims 8 replicas per CID.
func (lr *Liar) ReceiptLies() ([]ReceiptLie, error) {
	var minted []crypto.PrivKey
	for range 7 {
		k, _, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			return nil, err
		}
		minted = append(minted, k)
	}
	own := lr.Host.Peerstore().PrivKey(lr.Host.ID())
	claim := func(n int, receipts [][]byte) *pb.AnnounceResponse {
		return &pb.AnnounceResponse{Accepted: uint32(n), Replicas: 8, Target: 8, CidReplicas: repeat(8, n), Receipts: receipts}
	}
	forged := func(env []byte, n int) [][]byte {
		h := sha256.Sum256(env)
		broken := lr.Receipt(env, allIndices(n))
		broken[len(broken)-1] ^= 0xff
		// a receipt naming minted[0]'s peer, signed by minted[1]
		victimID, _ := peer.IDFromPrivateKey(minted[0])
		env2, _ := record.Seal(&protocol.Receipt{Replica: victimID, Announcement: h, Indices: allIndices(n), At: time.Now()}, minted[1])
		wrongSigner, _ := env2.Marshal()
		return [][]byte{[]byte("garbage"), broken, wrongSigner}
	}
	other := sha256.Sum256([]byte("another announcement"))
	return []ReceiptLie{
		{Name: "replicas=8 with no receipt", MaxReplicas: 0, Answer: func(env []byte, n int) *pb.AnnounceResponse {
			return claim(n, nil)
		}},
		{Name: "replicas=8 with forged receipts (garbage, broken signature, signer ≠ replica)", MaxReplicas: 0,
			Answer: func(env []byte, n int) *pb.AnnounceResponse { return claim(n, forged(env, n)) }},
		{Name: "replicas=8 with 8 valid receipts for another announcement", MaxReplicas: 0,
			Answer: func(env []byte, n int) *pb.AnnounceResponse {
				rs := [][]byte{SignedReceipt(own, other, allIndices(n))}
				for _, k := range minted {
					rs = append(rs, SignedReceipt(k, other, allIndices(n)))
				}
				return claim(n, rs)
			}},
		{Name: "replicas=8 with 8 valid receipts for indices out of range", MaxReplicas: 0,
			Answer: func(env []byte, n int) *pb.AnnounceResponse {
				rs := [][]byte{lr.Receipt(env, []uint32{uint32(n + 1000)})}
				for _, k := range minted {
					rs = append(rs, SignedReceipt(k, sha256.Sum256(env), []uint32{uint32(n + 1000)}))
				}
				return claim(n, rs)
			}},
		{Name: "replicas=8 with one genuine receipt repeated 8 times", MaxReplicas: 1,
			Answer: func(env []byte, n int) *pb.AnnounceResponse {
				rc := lr.Receipt(env, allIndices(n))
				return claim(n, [][]byte{rc, rc, rc, rc, rc, rc, rc, rc})
			}},
		{Name: "replicas=8 with one genuine receipt and forged ones", MaxReplicas: 1,
			Answer: func(env []byte, n int) *pb.AnnounceResponse {
				return claim(n, append([][]byte{lr.Receipt(env, allIndices(n))}, forged(env, n)...))
			}},
		{Name: "replicas=8 with valid receipts from 7 keys the liar minted (Sybil receipts)", MaxReplicas: 8, Limitation: true,
			Answer: func(env []byte, n int) *pb.AnnounceResponse {
				rs := [][]byte{lr.Receipt(env, allIndices(n))}
				for _, k := range minted {
					rs = append(rs, SignedReceipt(k, sha256.Sum256(env), allIndices(n)))
				}
				return claim(n, rs)
			}},
	}, nil
}

// LiarScene is a lying primary with the material it captured from two real
// leaves attached to it: one that announced two CIDs and withdrew the
// first, and one whose announcement (signed for the 1 s TTL the liar told
// it) has expired.
type LiarScene struct {
	Liar     *Liar
	Material Material
	Never    cid.Cid // a CID nobody announced
	Held     cid.Cid // a CID the victim announced and still holds
	lab      *Lab
}

// NewLiarScene sets the scene up; the leaves are real leaf.Agents.
func (l *Lab) NewLiarScene(ctx context.Context) (*LiarScene, error) {
	lr, err := l.StartLiar(time.Second)
	if err != nil {
		return nil, err
	}
	short, err := l.Leaf(ctx, LeafConfig([]peer.AddrInfo{lr.AddrInfo()}))
	if err != nil {
		return nil, err
	}
	lr.SetTTL(time.Hour)
	victim, err := l.Leaf(ctx, LeafConfig([]peer.AddrInfo{lr.AddrInfo()}))
	if err != nil {
		return nil, err
	}
	x0, x1, x2 := NamedCID("liar/x0"), NamedCID("liar/x1"), NamedCID("liar/expiring")
	if _, err := short.Announce(ctx, []cid.Cid{x2}); err != nil {
		return nil, err
	}
	if _, err := victim.Announce(ctx, []cid.Cid{x0, x1}); err != nil {
		return nil, err
	}
	if _, err := victim.Withdraw(ctx, []cid.Cid{x0}); err != nil {
		return nil, err
	}
	m := Material{Victim: victim.Host().ID()}
	for _, c := range lr.Captured(victim.Host().ID(), false) {
		if len(c.CIDs) == 2 {
			m.Live = c
		}
	}
	if ws := lr.Captured(victim.Host().ID(), true); len(ws) > 0 {
		m.Withdrawal = ws[0]
	}
	if es := lr.Captured(short.Host().ID(), false); len(es) > 0 {
		m.Expired = es[0]
	}
	if m.Live == nil || m.Withdrawal == nil || m.Expired == nil {
		return nil, errors.New("attack: the liar did not capture its material")
	}
	// The short-lived announcement must have expired.
	if err := WaitFor(ctx, 5*time.Second, func() bool { return time.Now().After(m.Expired.Ann.Expires) }); err != nil {
		return nil, err
	}
	short.Close() // it would keep refreshing every third of a second
	return &LiarScene{Liar: lr, Material: m, Never: NamedCID("liar/never"), Held: x1, lab: l}, nil
}

// Leaf starts a fresh real leaf attached to the liar.
func (sc *LiarScene) Leaf(ctx context.Context) (*leaf.Agent, error) {
	return sc.lab.Leaf(ctx, LeafConfig([]peer.AddrInfo{sc.Liar.AddrInfo()}))
}

// Answer sets the liar to answer lookups of key with hs (and nothing else).
func (sc *LiarScene) Answer(key cid.Cid, hs []*pb.Holder) {
	sc.Liar.SetLookup(func(k []byte) []*pb.Holder {
		if bytes.Equal(k, key.Hash()) {
			return hs
		}
		return nil
	})
}

// RunLyingPrimary measures the catalogue against real leaves.
func RunLyingPrimary(ctx context.Context) []Row {
	rows, err := runLyingPrimary(ctx)
	if err != nil {
		return []Row{Failed(3, "lying primary", err)}
	}
	return rows
}

func runLyingPrimary(ctx context.Context) ([]Row, error) {
	lab := NewLab()
	defer lab.Close()
	sc, err := lab.NewLiarScene(ctx)
	if err != nil {
		return nil, err
	}
	asker, err := sc.Leaf(ctx)
	if err != nil {
		return nil, err
	}
	// Control: the genuine holder is accepted (the check can fail).
	sc.Answer(sc.Held, []*pb.Holder{sc.Material.Live.Holder(1)})
	got, err := asker.Lookup(ctx, sc.Held, 0)
	if err != nil || len(got) != 1 || got[0].ID != sc.Material.Victim {
		return nil, fmt.Errorf("control: a genuine holder was not accepted: %v %v", got, err)
	}
	lies, err := sc.Liar.HolderLies(sc.Material, sc.Never)
	if err != nil {
		return nil, err
	}
	believed := 0
	var which []string
	for _, lie := range lies {
		sc.Answer(lie.Key, lie.Holders)
		got, err := asker.Lookup(ctx, lie.Key, 0)
		if err == nil && len(got) > 0 {
			believed++
			which = append(which, lie.Name)
		}
	}
	out := fmt.Sprintf("%d of %d invented holders accepted by a real leaf (genuine holder accepted: control)", believed, len(lies))
	if believed > 0 {
		out += fmt.Sprintf(" %v", which)
	}
	rows := []Row{{Point: 3, Attack: "lying primary: invented holders", Attempts: len(lies), Unit: "lies", Successes: believed,
		Outcome: out, Bound: "0 accepted", Pass: believed == 0}}

	// Stale: the victim's live announcement of x0, which it has since
	// withdrawn (the liar saw the withdrawal; the asker did not).
	sc.Answer(sc.Material.Live.CIDs[0], []*pb.Holder{sc.Material.Live.Holder(0)})
	got, err = asker.Lookup(ctx, sc.Material.Live.CIDs[0], 0)
	stale := 0
	if err == nil && len(got) > 0 {
		stale = 1
	}
	rows = append(rows, Row{Point: 3, Attack: "lying primary: a withdrawn holder's still-unexpired announcement", Attempts: 1, Unit: "lies",
		Successes: stale, Pass: true,
		Outcome: fmt.Sprintf("accepted %d of 1: a supernode can show a holder until the expiry the holder signed (TTL, 45 min by default), not invent one", stale),
		Bound:   "limitation (documented)"})

	rlies, err := sc.Liar.ReceiptLies()
	if err != nil {
		return nil, err
	}
	counted := make([]int, len(rlies))
	errs := make([]error, len(rlies))
	var wg sync.WaitGroup
	for i, lie := range rlies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counted[i], errs[i] = sc.AnnounceThrough(ctx, lie.Answer, fmt.Sprint(i))
		}()
	}
	wg.Wait()
	inflated, tried := 0, 0
	var inflatedBy []string
	var limits []Row
	for i, lie := range rlies {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if lie.Limitation {
			limits = append(limits, Row{Point: 3, Attack: "lying primary: " + lie.Name, Attempts: 1, Unit: "lies", Successes: min(counted[i], 1),
				Outcome: fmt.Sprintf("the leaf counted %d replicas: a receipt proves a key signed it, not that the key is a supernode", counted[i]),
				Bound:   "limitation (documented)", Pass: true})
			continue
		}
		tried++
		if counted[i] > lie.MaxReplicas {
			inflated++
			inflatedBy = append(inflatedBy, fmt.Sprintf("%s: counted %d", lie.Name, counted[i]))
		}
	}
	out = fmt.Sprintf("%d of %d fabricated counts believed (each claimed 8 replicas; the leaf counts only receipts it verifies)", inflated, tried)
	if inflated > 0 {
		out += fmt.Sprintf(" %v", inflatedBy)
	}
	rows = append(rows, Row{Point: 3, Attack: "lying primary: fabricated replica counts", Attempts: tried, Unit: "lies",
		Successes: inflated, Outcome: out, Bound: "0 believed", Pass: inflated == 0})
	return append(rows, limits...), nil
}

// AnnounceThrough announces one fresh CID (named by name) from a fresh
// real leaf through the liar answering with answer, and returns the
// replicas the leaf counted (0 when it refused the answer: its Announce
// failed within 3 s).
func (sc *LiarScene) AnnounceThrough(ctx context.Context, answer func([]byte, int) *pb.AnnounceResponse, name string) (int, error) {
	n, err := sc.AnnounceErr(ctx, answer, name)
	if err != nil && !errors.Is(err, errSetup) {
		return 0, nil
	}
	return n, err
}

var errSetup = errors.New("attack: leaf setup")

// AnnounceErr is AnnounceThrough returning the leaf's own error.
func (sc *LiarScene) AnnounceErr(ctx context.Context, answer func([]byte, int) *pb.AnnounceResponse, name string) (int, error) {
	l, err := sc.Leaf(ctx)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errSetup, err)
	}
	defer l.Close()
	sc.Liar.SetAnnounceFor(l.Host().ID(), answer)
	defer sc.Liar.SetAnnounceFor(l.Host().ID(), nil)
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	res, err := l.Announce(actx, []cid.Cid{NamedCID("liar/receipt-lie/" + name)})
	return res.Replicas, err
}
