package supernode

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

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
	resp := &pb.ReplicateResponse{}
	if !n.lim.allow(remote, n.now()) {
		resp.Status, resp.Error = pb.Status_RATE_LIMITED, "rate limited"
	} else if frame, err := n.cfg.Limits.NewReader(s).ReadFrame(); err != nil {
		if !errors.Is(err, protocol.ErrMessageTooLarge) && !errors.Is(err, protocol.ErrMalformed) {
			s.Reset()
			return
		}
		resp.Status, resp.Error = protocol.StatusOf(err), n.cfg.Limits.Truncate(err.Error())
	} else if req, err := n.cfg.Limits.DecodeReplicateRequest(frame); err != nil {
		resp.Status, resp.Error = protocol.StatusOf(err), n.cfg.Limits.Truncate(err.Error())
	} else if err := n.StoreAnnouncement(n.ctx, req.Envelope); err != nil {
		n.cfg.Logger.Debug("replica refused", "from", remote, "err", err)
		resp.Status, resp.Error = protocol.StatusOf(err), n.cfg.Limits.Truncate(err.Error())
	} else {
		resp.Stored = 1
	}
	if err := protocol.WriteMsg(s, resp); err != nil {
		s.Reset()
		return
	}
	s.Close()
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
	if err := protocol.WriteMsg(protocol.ThrottledWriter{W: s, Lim: n.cfg.UploadLimit, Ctx: ctx}, &pb.ReplicateRequest{Envelope: envelope}); err != nil {
		return err
	}
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
