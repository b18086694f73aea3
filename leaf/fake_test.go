package leaf

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/filecoin-project/go-clock"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	mh "github.com/multiformats/go-multihash"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// fakeSN serves the leaf protocol from a mocknet host, as a supernode
// would, and can be frozen (every request read and never answered, as under
// SIGSTOP) or made to hold one kind of request, or to answer a kind with a
// status.
type fakeSN struct {
	t      testing.TB
	h      host.Host
	clk    clock.Clock
	limits protocol.Limits

	mu       sync.Mutex
	hbMs     int64 // heartbeat interval asked in AttachResponse
	ttlMs    int64
	frozen   bool
	hold     map[string]bool // kinds read and not answered
	status   map[string]pb.Status
	gate     chan struct{} // closed (and replaced) on thaw/release
	held     int           // requests waiting at the gate
	passes   int           // held requests to let through (releaseOne)
	got      map[string]int
	answered map[string]int
	holdsAll bool    // answer every lookup with itself as a holder
	rho      float64 // utilisation reported in its Load
	batches  []*protocol.Batch
	others   []peer.AddrInfo // listed in SupernodesResponse
	seqs     []uint64        // sequence numbers of announcements received
	beats    []time.Time     // when each heartbeat arrived (the fake clock)
	arrived  []time.Time     // when each stored announcement arrived (the fake clock)
	stopped  chan struct{}
}

func newFakeSN(t testing.TB, mn mocknet.Mocknet, clk clock.Clock, hbMs int64) *fakeSN {
	t.Helper()
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSN{t: t, h: h, clk: clk, limits: protocol.DefaultLimits, hbMs: hbMs, ttlMs: (30 * time.Minute).Milliseconds(),
		hold: map[string]bool{}, status: map[string]pb.Status{}, gate: make(chan struct{}),
		got: map[string]int{}, answered: map[string]int{}, stopped: make(chan struct{})}
	ping.NewPingService(h)
	h.SetStreamHandler(protocol.LeafProtocol, f.serve)
	t.Cleanup(func() { close(f.stopped) })
	return f
}

func (f *fakeSN) info() peer.AddrInfo { return peer.AddrInfo{ID: f.h.ID(), Addrs: f.h.Addrs()} }

func (f *fakeSN) serve(s network.Stream) {
	r := f.limits.NewReader(s)
	for {
		frame, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.Close()
			} else {
				s.Reset()
			}
			return
		}
		req, err := f.limits.DecodeRequest(frame)
		if err != nil {
			f.t.Errorf("fake supernode: bad request: %v", err)
			s.Reset()
			return
		}
		kind := protocol.RequestKind(req)
		f.mu.Lock()
		f.got[kind]++
		if kind == "heartbeat" {
			f.beats = append(f.beats, f.clk.Now())
		}
		held := f.frozen || f.hold[kind]
		f.mu.Unlock()
		if held {
			// Held requests end their stream: a reader watches it for the
			// leaf's reset, and the stream is closed once answered.
			gone := make(chan struct{})
			go func() {
				var b [1]byte
				_, _ = s.Read(b[:])
				close(gone)
			}()
			if !f.wait(kind, gone) {
				s.Reset()
				return
			}
		}
		resp := f.answer(s.Conn().RemotePeer(), req.Request, kind)
		resp.Id = req.Id
		f.mu.Lock()
		f.answered[kind]++ // before the write: the leaf may act on it at once
		f.mu.Unlock()
		if err := protocol.WriteMsg(s, resp); err != nil {
			s.Reset()
			return
		}
		if held {
			s.Close()
			return
		}
	}
}

// wait blocks a request while the fake is frozen or holds its kind; false
// if the leaf gave up on it (gone) or the test ended.
func (f *fakeSN) wait(kind string, gone <-chan struct{}) bool {
	f.mu.Lock()
	f.held++
	defer func() {
		f.held--
		f.mu.Unlock()
	}()
	for (f.frozen || f.hold[kind]) && f.passes == 0 {
		gate := f.gate
		f.mu.Unlock()
		select {
		case <-gate:
		case <-gone:
			f.mu.Lock()
			return false
		case <-f.stopped:
			f.mu.Lock()
			return false
		}
		f.mu.Lock()
	}
	if f.frozen || f.hold[kind] {
		f.passes--
	}
	return true
}

// releaseOne lets one held request through.
func (f *fakeSN) releaseOne() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passes++
	close(f.gate)
	f.gate = make(chan struct{})
}

func (f *fakeSN) answer(from peer.ID, req *pb.Request, kind string) *pb.Response {
	f.mu.Lock()
	defer f.mu.Unlock()
	if st, ok := f.status[kind]; ok {
		return &pb.Response{Status: st, Error: "fake: " + st.String()}
	}
	load := &pb.Load{Leaves: 1, MaxLeaves: 10, Supernodes: 3, Rho: f.rho}
	switch b := req.Body.(type) {
	case *pb.Request_Attach:
		return &pb.Response{Body: &pb.Response_Attach{Attach: &pb.AttachResponse{Load: load, RecordTtlMs: f.ttlMs, HeartbeatIntervalMs: f.hbMs}}}
	case *pb.Request_Heartbeat:
		return &pb.Response{Body: &pb.Response_Heartbeat{Heartbeat: &pb.HeartbeatResponse{Load: load}}}
	case *pb.Request_Announce:
		batch, err := f.limits.OpenBatch(b.Announce.Envelope, b.Announce.Cids, f.clk.Now())
		if err != nil || batch.Peer != from {
			return &pb.Response{Status: pb.Status_REFUSED, Error: fmt.Sprintf("fake: bad announcement: %v", err)}
		}
		f.seqs = append(f.seqs, batch.Seq)
		f.batches = append(f.batches, batch)
		f.arrived = append(f.arrived, f.clk.Now())
		idx := make([]uint32, len(batch.CIDs))
		for i := range idx {
			idx[i] = uint32(i)
		}
		rcpt, err := f.limits.SignReceipt(&protocol.Receipt{Replica: f.h.ID(), Announcement: batch.Hash, Indices: idx, At: f.clk.Now()},
			f.h.Peerstore().PrivKey(f.h.ID()))
		if err != nil {
			f.t.Errorf("fake supernode: receipt: %v", err)
		}
		return &pb.Response{Body: &pb.Response_Announce{Announce: &pb.AnnounceResponse{
			Accepted: uint32(len(batch.CIDs)), Replicas: 1, Receipts: [][]byte{rcpt}, Target: 1}}}
	case *pb.Request_Lookup:
		c, err := f.limits.CIDFromBytes(b.Lookup.Cid)
		if err != nil {
			return &pb.Response{Status: pb.Status_BAD_REQUEST, Error: err.Error()}
		}
		return &pb.Response{Body: &pb.Response_Lookup{Lookup: &pb.LookupResponse{Holders: f.holdersOf(c)}}}
	case *pb.Request_Supernodes:
		res := &pb.SupernodesResponse{}
		for _, p := range f.others {
			res.Supernodes = append(res.Supernodes, f.limits.PeerToPB(p))
		}
		return &pb.Response{Body: &pb.Response_Supernodes{Supernodes: res}}
	}
	return &pb.Response{}
}

// holdersOf answers a lookup of c (f.mu held): every stored announcement
// that covers it, and the fake itself if it claims to hold everything.
func (f *fakeSN) holdersOf(c cid.Cid) []*pb.Holder {
	var out []*pb.Holder
	for _, b := range f.batches {
		for i, bc := range b.CIDs {
			if bc.Equals(c) && !b.Withdraw {
				proof, _ := b.Tree.Proof(i)
				out = append(out, protocol.HolderToPB(b.Envelope, c, i, proof))
			}
		}
	}
	if f.holdsAll {
		ann := &protocol.Announcement{Peer: f.h.ID(), Addrs: f.h.Addrs(), Seq: 1, Expires: f.clk.Now().Add(time.Hour)}
		env, err := f.limits.SignAnnouncement(ann, []cid.Cid{c}, f.h.Peerstore().PrivKey(f.h.ID()))
		if err != nil {
			f.t.Errorf("fake supernode: signing itself as a holder: %v", err)
			return out
		}
		out = append(out, protocol.HolderToPB(env, c, 0, nil))
	}
	return out
}

// beatTimes returns when its heartbeats arrived.
func (f *fakeSN) beatTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.beats)
}

func (f *fakeSN) setFrozen(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.frozen = v
	if !v {
		close(f.gate)
		f.gate = make(chan struct{})
	}
}

func (f *fakeSN) setRho(rho float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rho = rho
}

func (f *fakeSN) setHold(kind string, v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold[kind] = v
	if !v {
		close(f.gate)
		f.gate = make(chan struct{})
	}
}

func (f *fakeSN) setStatus(kind string, st pb.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status[kind] = st
}

func (f *fakeSN) clearStatus(kind string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.status, kind)
}

// holdEverything makes the fake answer every lookup with itself as a
// holder (signed with its own key), so a test sees who answered.
func (f *fakeSN) holdEverything() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.holdsAll = true
}

func (f *fakeSN) received(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.got[kind]
}

func (f *fakeSN) answers(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.answered[kind]
}

func (f *fakeSN) waiting() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.held
}

// world is a leaf agent on a mocknet with fake supernodes and a mock clock.
type world struct {
	t   testing.TB
	mn  mocknet.Mocknet
	clk *clock.Mock
	sns []*fakeSN
	a   *Agent
}

// newWorld starts n fake supernodes asking for heartbeats every hbMs.
func newWorld(t testing.TB, n int, hbMs int64) *world {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	clk := clock.NewMock()
	clk.Set(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	w := &world{t: t, mn: mn, clk: clk}
	for range n {
		w.sns = append(w.sns, newFakeSN(t, mn, clk, hbMs))
	}
	return w
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testConfig: 1 s default heartbeats, every timer on the mock clock.
func (w *world) config(known ...*fakeSN) Config {
	c := DefaultConfig()
	c.Clock = w.clk
	c.Logger = quiet
	c.HeartbeatInterval = time.Second
	c.RequestTimeout = 5 * time.Second
	for _, f := range known {
		c.Supernodes = append(c.Supernodes, f.info())
	}
	return c
}

// start runs an agent with cfg on a new mocknet host linked to everyone.
func (w *world) start(cfg Config) *Agent {
	w.t.Helper()
	h, err := w.mn.GenPeer()
	if err != nil {
		w.t.Fatal(err)
	}
	if err := w.mn.LinkAll(); err != nil {
		w.t.Fatal(err)
	}
	a, err := New(h, cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { a.Close() })
	w.a = a
	return a
}

// settle waits (real time, bounded) until every exchange the agent has in
// flight is one a fake holds: nothing else is left to happen before the
// mock clock moves on. It must hold on a few consecutive looks, so that
// goroutines a timer just woke get to start their requests.
func (w *world) settle() {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	stable := 0
	for stable < 3 {
		held := 0
		for _, f := range w.sns {
			held += f.waiting()
		}
		if w.a.busy.Load() == int64(held) {
			stable++
		} else {
			stable = 0
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("agent did not settle: %d exchanges in flight, %d held", w.a.busy.Load(), held)
		}
		waitRealTick() // polling interval, not synchronisation
	}
}

// advance moves the mock clock on by d in steps, settling before and after
// each. A step must be shorter than every timeout in play (heartbeat
// interval, request timeout): a request sent while the clock moves gets a
// timeout that a longer step would fire before the answer arrives.
func (w *world) advance(d, step time.Duration) {
	w.t.Helper()
	for d > 0 {
		s := min(step, d)
		w.settle()
		w.clk.Add(s)
		d -= s
	}
	w.settle()
}

// advanceUntil moves the clock on in steps until cond holds; it fails the
// test after max of simulated time and returns the simulated time it took.
func (w *world) advanceUntil(what string, max, step time.Duration, cond func() bool) time.Duration {
	w.t.Helper()
	start := w.clk.Now()
	for {
		w.settle()
		if cond() {
			return w.clk.Since(start)
		}
		if w.clk.Since(start) >= max {
			w.t.Fatalf("%s: not within %s of simulated time", what, max)
		}
		w.clk.Add(step)
	}
}

// attached waits (simulated time) for a primary and the backups.
func (w *world) attached(backups int) {
	w.t.Helper()
	w.advanceUntil("primary and backups", 10*time.Second, 100*time.Millisecond, func() bool {
		return w.a.Primary() != "" && len(w.a.Supernodes()) == 1+backups
	})
}

func (w *world) byID(id peer.ID) *fakeSN {
	for _, f := range w.sns {
		if f.h.ID() == id {
			return f
		}
	}
	w.t.Fatalf("no fake supernode %s", id)
	return nil
}

// othersThan sums count over the world's supernodes other than x.
func (w *world) othersThan(x *fakeSN, count func(*fakeSN) int) int {
	n := 0
	for _, f := range w.sns {
		if f != x {
			n += count(f)
		}
	}
	return n
}

// startAlone starts an agent on the world's first supernode with no
// backups (and edit, if set, applied to its config), and waits until it is
// attached.
func (w *world) startAlone(edit func(*Config)) (*Agent, *fakeSN) {
	cfg := w.config(w.sns[0])
	cfg.Backups = 0
	if edit != nil {
		edit(&cfg)
	}
	a := w.start(cfg)
	w.attached(0)
	return a, w.sns[0]
}

// startHoldingEverything starts an agent on the world's three supernodes,
// waits for its primary and two backups, then has every supernode answer
// every lookup with itself (holdEverything); it returns the agent and its
// primary.
func (w *world) startHoldingEverything() (*Agent, *fakeSN) {
	a := w.start(w.config(w.sns...))
	w.attached(2)
	primary := w.byID(a.Primary())
	for _, f := range w.sns {
		f.holdEverything()
	}
	return a, primary
}

// oneStream limits an agent to one data stream per supernode.
func oneStream(c *Config) { c.MaxStreams = 1 }

// lookupAsync looks up the test CID named name in a goroutine.
func lookupAsync(t testing.TB, a *Agent, name string) <-chan error {
	return goAsync(func() error { _, err := a.Lookup(t.Context(), testCID(t, name), 0); return err })
}

// goAsync runs f in a goroutine and returns a channel with its error.
func goAsync(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// result waits (real time, bounded) for an async call's error, advancing
// nothing: the call must complete on its own.
func result(t testing.TB, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second): // a bound on a hung test, not synchronisation
		t.Fatal("call did not return")
		return nil
	}
}

func testCID(t testing.TB, name string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(name), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

// waitRealTick is the polling interval of settle.
func waitRealTick() { time.Sleep(time.Millisecond) }
