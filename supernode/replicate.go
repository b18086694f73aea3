package supernode

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// handleReplicateStream serves one replication request per stream: the
// sending supernode's announcement is verified here before it is stored,
// so a supernode cannot forge a leaf's record on another.
func (n *Node) handleReplicateStream(s network.Stream) {
	if !n.track(s) {
		s.Reset()
		return
	}
	defer n.untrack(s)
	remote := s.Conn().RemotePeer()
	_ = s.SetDeadline(time.Now().Add(n.cfg.ReplicateTimeout))
	resp := n.serveReplica(s, remote)
	if resp == nil {
		s.Reset()
		return
	}
	if err := protocol.WriteMsg(s, resp); err != nil {
		s.Reset()
		return
	}
	s.Close()
}

// serveReplica reads and answers one replication request; nil means the
// stream failed and must be reset.
func (n *Node) serveReplica(s network.Stream, remote peer.ID) *pb.ReplicateResponse {
	fail := func(err error) *pb.ReplicateResponse {
		return &pb.ReplicateResponse{Status: protocol.StatusOf(err), Error: n.cfg.Limits.Truncate(err.Error())}
	}
	if !n.lim.allow(remote, n.now()) {
		return &pb.ReplicateResponse{Status: pb.Status_RATE_LIMITED, Error: "rate limited"}
	}
	frame, err := n.cfg.Limits.NewReader(s).ReadFrame()
	if err != nil {
		if errors.Is(err, protocol.ErrMessageTooLarge) || errors.Is(err, protocol.ErrMalformed) {
			return fail(err)
		}
		return nil
	}
	n.cfg.Meter.In("replicate", len(frame))
	req, err := n.cfg.Limits.DecodeReplicateRequest(frame)
	if err != nil {
		return fail(err)
	}
	if err := n.StoreAnnouncement(n.ctx, req.Envelope); err != nil {
		n.cfg.Logger.Debug("replica refused", "from", remote, "err", err)
		return fail(err)
	}
	return &pb.ReplicateResponse{Stored: 1}
}

// sendReplica sends a signed announcement to supernode p.
func (n *Node) sendReplica(ctx context.Context, p peer.ID, envelope []byte) (err error) {
	s, err := n.host.NewStream(ctx, p, protocol.ReplicateProtocol)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			s.Reset()
		} else {
			s.Close()
		}
	}()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(n.cfg.ReplicateTimeout)
	}
	_ = s.SetDeadline(deadline)
	req := &pb.ReplicateRequest{Envelope: envelope}
	if err := protocol.WriteMsg(protocol.ThrottledWriter{W: s, Lim: n.cfg.UploadLimit, Ctx: ctx}, req); err != nil {
		return err
	}
	n.cfg.Meter.Out("replicate", proto.Size(req))
	if err := s.CloseWrite(); err != nil {
		return err
	}
	frame, err := n.cfg.Limits.NewReader(s).ReadFrame()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	resp, err := n.cfg.Limits.DecodeReplicateResponse(frame)
	if err != nil {
		return err
	}
	return protocol.ResponseError(resp.Status, resp.Error)
}
