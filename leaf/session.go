package leaf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filecoin-project/go-clock"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// Heartbeat intervals a supernode may ask for are clamped to this range.
const (
	minHeartbeatInterval = 100 * time.Millisecond
	maxHeartbeatInterval = 5 * time.Minute
)

// session is a leaf's link to one supernode: a control stream of its own
// for attach, heartbeats and detach, and a small pool of data streams for
// announces, lookups and discovery, so heartbeats never queue behind data
// and several requests run at once. Every request's timeout starts when it
// is written; waiting for a free stream is the caller's time.
type session struct {
	info    peer.AddrInfo
	rtt     time.Duration // libp2p ping when the agent met it
	host    host.Host
	limits  protocol.Limits
	meter   *traffic.Meter
	clock   clock.Clock
	policy  hedgePolicy
	timeout time.Duration // data requests
	defHB   time.Duration // heartbeat interval when the supernode asks none

	ctrl, data *streamPool
	nextID     atomic.Uint64
	busy       *atomic.Int64   // the agent's count of exchanges in flight
	ctx        context.Context // ends when the session is closed
	cancel     context.CancelFunc
	kick       chan struct{} // ask the heartbeat loop to beat now
	loopOnce   sync.Once

	mu        sync.Mutex
	closed    bool
	load      *pb.Load
	interval  time.Duration // asked by the supernode (0: none)
	lat       map[string]*latencyWindow
	hbSent    time.Time // when the heartbeat in flight was written; zero if none
	lastHeard time.Time
	beats     int // heartbeats sent
}

func (a *Agent) newSession(info peer.AddrInfo, rtt time.Duration) *session {
	s := &session{
		info: info, rtt: rtt, host: a.host, limits: a.cfg.Limits, meter: a.cfg.Meter, clock: a.clock,
		timeout: a.cfg.RequestTimeout, defHB: a.cfg.HeartbeatInterval,
		policy: hedgePolicy{Floor: a.cfg.HedgeFloor, Factor: a.cfg.HedgeFactor,
			Cold: time.Duration(a.cfg.HedgeFactor * float64(2*rtt)), Cap: a.cfg.RequestTimeout / 2},
		kick: make(chan struct{}, 1),
		lat:  make(map[string]*latencyWindow),
		busy: &a.busy,
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	// The control stream idles up to a backup's heartbeat interval.
	s.ctrl = newStreamPool(1, a.clock, func() time.Duration { return protocol.BackupHeartbeatFactor * s.heartbeatInterval() })
	s.data = newStreamPool(a.cfg.MaxStreams, a.clock, s.heartbeatInterval)
	return s
}

// control requests travel on the control stream.
func isControl(req *pb.Request) bool {
	switch req.Body.(type) {
	case *pb.Request_Attach, *pb.Request_Heartbeat, *pb.Request_Detach:
		return true
	}
	return false
}

// call sends req and returns the supernode's answer. timeout counts from
// when the request is written. A non-OK status comes back as a
// *protocol.StatusError; a failure the supernode caused (timeout, reset,
// EOF, closed connection, malformed answer) as a *SupernodeError; a closed
// session as errDropped; the caller's cancellation as ctx's error.
func (s *session) call(ctx context.Context, req *pb.Request, timeout time.Duration) (*pb.Response, error) {
	pool := s.data
	if isControl(req) {
		pool = s.ctrl
	}
	for attempt := 0; ; attempt++ {
		ps, err := pool.acquire(ctx)
		if err != nil {
			return nil, err
		}
		resp, stale, err := s.exchange(ctx, pool, ps, req, timeout)
		if err != nil {
			pool.discard(ps)
			if stale && attempt == 0 {
				// An idle stream the supernode had closed: once more, on a
				// fresh stream.
				pool.flushIdle()
				continue
			}
			return nil, err
		}
		pool.release(ps)
		if err := protocol.ResponseError(resp.Status, resp.Error); err != nil {
			return nil, err
		}
		return resp, nil
	}
}

// exchange writes req on ps and reads the answer. stale reports a reused
// stream that broke before any answer: worth one retry on a new stream.
func (s *session) exchange(ctx context.Context, pool *streamPool, ps *pooledStream, req *pb.Request, timeout time.Duration) (resp *pb.Response, stale bool, err error) {
	s.busy.Add(1)
	defer s.busy.Add(-1)
	rctx, cancel := s.clock.WithTimeout(ctx, timeout)
	defer cancel()
	stopOnClose := context.AfterFunc(s.ctx, cancel)
	defer stopOnClose()
	reused := ps.s != nil
	if !reused {
		st, err := s.host.NewStream(rctx, s.info.ID, protocol.LeafProtocol)
		if err != nil {
			return nil, false, s.failure(ctx, rctx, err, timeout)
		}
		if !pool.attach(ps, st, s.limits.NewReader(st)) {
			return nil, false, s.failure(ctx, rctx, errDropped, timeout)
		}
	}
	st := ps.s
	stopOnDone := context.AfterFunc(rctx, func() {
		ps.broken.Store(true) // even if the answer made it: the stream is gone
		_ = st.Reset()
	})
	defer stopOnDone()

	kind := protocol.RequestKind(req)
	req.Id = s.nextID.Add(1)
	sent := s.clock.Now()
	heartbeat := kind == "heartbeat"
	if heartbeat {
		s.mu.Lock()
		s.hbSent = sent
		s.mu.Unlock()
	}
	resp, err = s.roundTrip(ps, req, "leaf/"+kind)
	if heartbeat {
		s.mu.Lock()
		s.hbSent = time.Time{}
		s.mu.Unlock()
	}
	if err != nil {
		stale = reused && rctx.Err() == nil && !errors.Is(err, protocol.ErrMalformed) &&
			!errors.Is(err, protocol.ErrMessageTooLarge) && !errors.Is(err, protocol.ErrOverLimit)
		return nil, stale, s.failure(ctx, rctx, err, timeout)
	}
	s.heard(kind, s.clock.Since(sent))
	return resp, false, nil
}

// notify writes req on the control stream and closes it without waiting
// for the answer (a detach: the supernode need not be alive to be told).
func (s *session) notify(ctx context.Context, req *pb.Request) error {
	ps, err := s.ctrl.acquire(ctx)
	if err != nil {
		return err
	}
	defer s.ctrl.discard(ps)
	if ps.s == nil {
		st, err := s.host.NewStream(ctx, s.info.ID, protocol.LeafProtocol)
		if err != nil {
			return err
		}
		if !s.ctrl.attach(ps, st, s.limits.NewReader(st)) {
			return errDropped
		}
	}
	req.Id = s.nextID.Add(1)
	if err := protocol.WriteMsg(ps.s, req); err != nil {
		return err
	}
	s.meter.Out("leaf/"+protocol.RequestKind(req), proto.Size(req))
	return ps.s.CloseWrite()
}

// failure says whose a failed exchange is (see faultOf).
func (s *session) failure(ctx, rctx context.Context, err error, timeout time.Duration) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case s.isClosed():
		return fmt.Errorf("%w: %s", errDropped, s.info.ID.ShortString())
	case rctx.Err() != nil:
		return &SupernodeError{Peer: s.info.ID, Err: fmt.Errorf("%w (%s)", ErrTimeout, timeout)}
	}
	return &SupernodeError{Peer: s.info.ID, Err: err}
}

func (s *session) roundTrip(ps *pooledStream, req *pb.Request, kind string) (*pb.Response, error) {
	if err := protocol.WriteMsg(ps.s, req); err != nil {
		return nil, err
	}
	s.meter.Out(kind, proto.Size(req))
	frame, err := ps.r.ReadFrame()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	s.meter.In(kind, len(frame))
	resp, err := s.limits.DecodeResponse(frame)
	if err != nil {
		return nil, err
	}
	if resp.Id != req.Id && resp.Id != 0 {
		return nil, fmt.Errorf("%w: response %d to request %d", protocol.ErrMalformed, resp.Id, req.Id)
	}
	return resp, nil
}

// heard records an answer of kind that took d.
func (s *session) heard(kind string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastHeard = s.clock.Now()
	s.window(kind).add(d)
}

// heardSince reports whether the supernode answered anything after t.
func (s *session) heardSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHeard.After(t)
}

// abandoned records a request of kind cancelled after d because another
// supernode answered first: its answer would have taken at least d.
func (s *session) abandoned(kind string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window(kind).add(d)
}

func (s *session) window(kind string) *latencyWindow {
	w := s.lat[kind]
	if w == nil {
		w = &latencyWindow{}
		s.lat[kind] = w
	}
	return w
}

// hedgeAfter is how long to wait for this supernode's answer to a request
// of kind before asking another supernode too.
func (s *session) hedgeAfter(kind string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy.bound(s.window(kind))
}

// silenceBound: a heartbeat unanswered for longer than this means the
// supernode is silent (it normally answers within it).
func (s *session) silenceBound() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.policy
	p.Cap = s.intervalLocked() / 2
	return p.bound(s.window("heartbeat"))
}

// silent reports whether a heartbeat has been in flight for longer than
// the silence bound.
func (s *session) silent() bool {
	bound := s.silenceBound()
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.hbSent.IsZero() && s.clock.Since(s.hbSent) > bound
}

// heartbeatInterval is what the supernode asked for, or the default.
func (s *session) heartbeatInterval() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.intervalLocked()
}

func (s *session) intervalLocked() time.Duration {
	if s.interval > 0 {
		return s.interval
	}
	return s.defHB
}

// attached applies a supernode's AttachResponse.
func (s *session) attached(at *pb.AttachResponse) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load = at.GetLoad()
	if ms := at.GetHeartbeatIntervalMs(); ms > 0 {
		s.interval = min(max(time.Duration(ms)*time.Millisecond, minHeartbeatInterval), maxHeartbeatInterval)
	}
}

// probe asks the heartbeat loop to beat now (at most one waits).
func (s *session) probe() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *session) setLoad(l *pb.Load) {
	s.mu.Lock()
	s.load = l
	s.mu.Unlock()
}

func (s *session) lastLoad() *pb.Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load
}

// nextBeat counts a heartbeat and reports whether it carries gossip (every
// fifth, starting with the first).
func (s *session) nextBeat() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.beats++
	return s.beats%5 == 1
}

func (s *session) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// close ends every request in flight (they fail with errDropped) and the
// heartbeat loop.
func (s *session) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.ctrl.close()
	s.data.close()
}
