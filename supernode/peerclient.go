package supernode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
)

// errSessionClosed: the session's stream failed or was closed.
var errSessionClosed = errors.New("supernode: peer session closed")

// peerClient is this supernode's side of a PeerProtocol session with
// another: one long-lived stream carrying pipelined requests, answered by
// id in any order, so replica stores and fetches to one peer never wait
// for each other or for a new stream.
type peerClient struct {
	p     peer.ID
	s     network.Stream
	r     *protocol.MsgReader
	n     *Node
	wmu   sync.Mutex // one frame at a time on the stream
	mu    sync.Mutex
	next  uint64
	wait  map[uint64]chan *pb.PeerResponse
	done  chan struct{}
	err   error
	fails int // consecutive timeouts
}

func (n *Node) newPeerClient(s network.Stream) *peerClient {
	c := &peerClient{p: s.Conn().RemotePeer(), s: s, r: n.cfg.Limits.NewReader(s), n: n,
		wait: make(map[uint64]chan *pb.PeerResponse), done: make(chan struct{})}
	n.wg.Add(1)
	go c.readLoop()
	return c
}

func (c *peerClient) readLoop() {
	defer c.n.wg.Done()
	for {
		frame, err := c.r.ReadFrame()
		if err != nil {
			c.fail(err)
			return
		}
		resp, err := c.n.cfg.Limits.DecodePeerResponse(frame)
		if err != nil {
			c.fail(err)
			return
		}
		c.n.cfg.Meter.In("peer/response", len(frame))
		c.mu.Lock()
		ch := c.wait[resp.Id]
		delete(c.wait, resp.Id)
		c.mu.Unlock()
		if ch != nil {
			ch <- resp // buffered: never blocks
		}
	}
}

// fail closes the session with err; every waiting call returns it.
func (c *peerClient) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	c.err = fmt.Errorf("%w: %w", errSessionClosed, err)
	close(c.done)
	c.s.Reset()
}

func (c *peerClient) closed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// call sends req and waits for its answer, ctx's end or the session's.
// A non-OK status comes back as a *protocol.StatusError.
func (c *peerClient) call(ctx context.Context, req *pb.PeerRequest) (*pb.PeerResponse, error) {
	ch := make(chan *pb.PeerResponse, 1)
	c.mu.Lock()
	if c.closed() {
		c.mu.Unlock()
		return nil, c.err
	}
	c.next++
	req.Id = c.next
	c.wait[req.Id] = ch
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		delete(c.wait, req.Id)
		c.mu.Unlock()
	}
	c.wmu.Lock()
	_ = c.s.SetWriteDeadline(time.Now().Add(writeTimeout))
	err := protocol.WriteMsg(traffic.ThrottledWriter{W: c.s, Lim: c.n.cfg.UploadLimit, Ctx: ctx}, req)
	c.wmu.Unlock()
	if err != nil {
		forget()
		c.fail(err)
		return nil, c.err
	}
	c.n.cfg.Meter.Out("peer/"+protocol.PeerRequestKind(req), proto.Size(req))
	select {
	case resp := <-ch:
		c.mu.Lock()
		c.fails = 0
		c.mu.Unlock()
		return resp, protocol.ResponseError(resp.Status, resp.Error)
	case <-c.done:
		forget()
		return nil, c.err
	case <-ctx.Done():
		forget()
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, ctx.Err() // the caller gave up: not the peer's doing
		}
		c.mu.Lock()
		c.fails++
		silent := c.fails >= 2
		c.mu.Unlock()
		if silent {
			// Two requests in a row unanswered: the peer is frozen or
			// overloaded; drop the session so it is re-verified.
			c.fail(fmt.Errorf("%s did not answer: %w", c.p, ctx.Err()))
		}
		return nil, ctx.Err()
	}
}

func (c *peerClient) close() { c.fail(errors.New("closed")) }
