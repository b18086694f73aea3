package leaf

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filecoin-project/go-clock"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/supertracker/supertracker/protocol"
)

// pooledStream is one request/response stream to a supernode; s is nil
// until the first request opens it.
type pooledStream struct {
	s      network.Stream
	r      *protocol.MsgReader
	idle   time.Time   // when it was last released
	broken atomic.Bool // reset under a request that completed anyway
}

// streamPool hands out at most max streams to one supernode at a time:
// an idle one if there is one, else a fresh slot, else the caller waits for
// one to be released (that wait is the caller's, never a request's timeout).
type streamPool struct {
	max   int
	clock clock.Clock
	// idleTTL: an idle stream older than this is closed rather than reused
	// (the supernode closes streams that stay silent for its session
	// timeout, which is at least one heartbeat interval).
	idleTTL func() time.Duration

	mu     sync.Mutex
	idle   []*pooledStream // most recently used last
	busy   map[*pooledStream]struct{}
	freed  chan struct{} // closed and replaced whenever a slot frees
	closed bool
}

func newStreamPool(max int, clk clock.Clock, idleTTL func() time.Duration) *streamPool {
	return &streamPool{max: max, clock: clk, idleTTL: idleTTL, busy: make(map[*pooledStream]struct{}), freed: make(chan struct{})}
}

// acquire returns a stream slot, waiting while all max are busy. It fails
// with errDropped once the pool is closed, or with ctx's error.
func (p *streamPool) acquire(ctx context.Context) (*pooledStream, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errDropped
		}
		now, ttl := p.clock.Now(), p.idleTTL()
		for len(p.idle) > 0 {
			ps := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			if now.Sub(ps.idle) >= ttl {
				_ = ps.s.Close()
				continue
			}
			p.busy[ps] = struct{}{}
			p.mu.Unlock()
			return ps, nil
		}
		if len(p.busy) < p.max {
			ps := &pooledStream{}
			p.busy[ps] = struct{}{}
			p.mu.Unlock()
			return ps, nil
		}
		freed := p.freed
		p.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// attach installs a freshly opened stream in its slot; false (and the
// stream reset) if the pool was closed meanwhile.
func (p *streamPool) attach(ps *pooledStream, s network.Stream, r *protocol.MsgReader) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = s.Reset()
		return false
	}
	ps.s, ps.r = s, r
	return true
}

// flushIdle closes every idle stream: one turned out closed by the
// supernode, so the others (older) likely are too.
func (p *streamPool) flushIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ps := range p.idle {
		_ = ps.s.Reset()
	}
	p.idle = nil
	p.signal()
}

// release returns a stream that is ready for the next request (or
// discards it if it was reset meanwhile).
func (p *streamPool) release(ps *pooledStream) {
	if ps.broken.Load() {
		p.discard(ps)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, ps)
	if ps.s == nil {
		p.signal()
		return
	}
	if p.closed {
		_ = ps.s.Close()
		return
	}
	ps.idle = p.clock.Now()
	p.idle = append(p.idle, ps)
	p.signal()
}

// discard resets a stream whose state is unknown (a failed or abandoned
// request) and frees its slot.
func (p *streamPool) discard(ps *pooledStream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, ps)
	if ps.s != nil {
		_ = ps.s.Reset()
	}
	p.signal()
}

// close resets every stream, idle or in use (their requests fail at once),
// and refuses new ones.
func (p *streamPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	for _, ps := range p.idle {
		_ = ps.s.Reset()
	}
	p.idle = nil
	for ps := range p.busy {
		if ps.s != nil {
			_ = ps.s.Reset()
		}
	}
	p.signal()
}

// open counts the streams open or being opened.
func (p *streamPool) open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle) + len(p.busy)
}

func (p *streamPool) signal() {
	close(p.freed)
	p.freed = make(chan struct{})
}
