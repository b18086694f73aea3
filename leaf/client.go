package leaf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// snClient is a leaf's session with one supernode: one stream reused for
// sequential request/response, reopened after any error.
type snClient struct {
	host   host.Host
	info   peer.AddrInfo
	limits protocol.Limits
	rtt    time.Duration
	meter  *protocol.Meter

	mu     sync.Mutex
	s      network.Stream
	r      *protocol.MsgReader
	nextID uint64
	load   *pb.Load
	beats  int // heartbeats sent (the maintenance loop's only)
}

func (c *snClient) call(ctx context.Context, req *pb.Request) (*pb.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s == nil {
		s, err := c.host.NewStream(ctx, c.info.ID, protocol.LeafProtocol)
		if err != nil {
			return nil, err
		}
		c.s, c.r = s, c.limits.NewReader(s)
	}
	c.nextID++
	req.Id = c.nextID
	resp, err := c.roundTrip(ctx, req)
	if err != nil {
		c.s.Reset()
		c.s, c.r = nil, nil
		return nil, err
	}
	if err := protocol.ResponseError(resp.Status, resp.Error); err != nil {
		return nil, err
	}
	return resp, nil
}

func (c *snClient) roundTrip(ctx context.Context, req *pb.Request) (*pb.Response, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(30 * time.Second)
	}
	_ = c.s.SetDeadline(deadline)
	kind := "leaf/" + protocol.RequestKind(req)
	if err := protocol.WriteMsg(c.s, req); err != nil {
		return nil, err
	}
	c.meter.Out(kind, proto.Size(req))
	frame, err := c.r.ReadFrame()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	c.meter.In(kind, len(frame))
	resp, err := c.limits.DecodeResponse(frame)
	if err != nil {
		return nil, err
	}
	if resp.Id != req.Id && resp.Id != 0 {
		return nil, fmt.Errorf("%w: response %d to request %d", protocol.ErrMalformed, resp.Id, req.Id)
	}
	return resp, nil
}

func (c *snClient) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.s != nil {
		c.s.Close()
		c.s, c.r = nil, nil
	}
}

func (c *snClient) setLoad(l *pb.Load) {
	c.mu.Lock()
	c.load = l
	c.mu.Unlock()
}

// Load returns the last load the supernode reported.
func (c *snClient) lastLoad() *pb.Load {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.load
}
