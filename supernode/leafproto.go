package supernode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
	"github.com/supertracker/supertracker/protocol/traffic"
)

const writeTimeout = 10 * time.Second

// handleLeafStream serves requests from one leaf on one stream until the
// leaf closes it, goes silent for BackupHeartbeatFactor × SessionTimeout,
// or the node closes.
func (n *Node) handleLeafStream(s network.Stream) {
	if !n.track(s) {
		s.Reset()
		return
	}
	defer n.untrack(s)
	remote := s.Conn().RemotePeer()
	r := n.cfg.Limits.NewReader(s)
	for {
		// A backup's heartbeat stream is silent for up to
		// BackupHeartbeatFactor heartbeat intervals between beats.
		_ = s.SetReadDeadline(time.Now().Add(protocol.BackupHeartbeatFactor * n.cfg.SessionTimeout))
		frame, err := r.ReadFrame()
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.Close()
				return
			}
			if errors.Is(err, protocol.ErrMessageTooLarge) || errors.Is(err, protocol.ErrMalformed) {
				// The framing is lost: answer, then close (a reset could
				// discard the answer).
				if n.writeResponse(s, &pb.Response{Status: pb.Status_BAD_REQUEST, Error: n.cfg.Limits.Truncate(err.Error())}) == nil {
					s.Close()
					return
				}
			}
			s.Reset()
			return
		}
		start := time.Now()
		resp, kind := n.serveFrame(remote, frame)
		n.cfg.Meter.In("leaf/"+kind, len(frame))
		if err := n.writeResponse(s, resp); err != nil {
			s.Reset()
			return
		}
		n.cfg.Meter.Out("leaf/"+kind, proto.Size(resp))
		n.load.observe(time.Since(start), n.clock.Now())
	}
}

func (n *Node) writeResponse(s network.Stream, resp *pb.Response) error {
	_ = s.SetWriteDeadline(time.Now().Add(writeTimeout))
	return protocol.WriteMsg(traffic.ThrottledWriter{W: s, Lim: n.cfg.UploadLimit, Ctx: n.ctx}, resp)
}

// serveFrame decodes one request and answers it; it never panics on input.
func (n *Node) serveFrame(remote peer.ID, frame []byte) (*pb.Response, string) {
	req, err := n.cfg.Limits.DecodeRequest(frame)
	if err != nil {
		return n.errorResponse(0, err), "malformed"
	}
	kind := protocol.RequestKind(req)
	resp, err := n.serve(remote, req)
	if err != nil {
		n.cfg.Logger.Debug("leaf request refused", "peer", remote, "err", err)
		return n.errorResponse(req.Id, err), kind
	}
	resp.Id = req.Id
	return resp, kind
}

func (n *Node) errorResponse(id uint64, err error) *pb.Response {
	return &pb.Response{Id: id, Status: protocol.StatusOf(err), Error: n.cfg.Limits.Truncate(err.Error())}
}

func refuse(status pb.Status, format string, args ...any) error {
	return &protocol.StatusError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// serve dispatches one decoded request.
func (n *Node) serve(remote peer.ID, req *protocol.Request) (*pb.Response, error) {
	now := n.clock.Now()
	if !n.lim.allow(remote, now) {
		return nil, refuse(pb.Status_RATE_LIMITED, "more than %.0f requests/s", n.cfg.RequestsPerSecond)
	}
	if n.steppingDown() {
		if _, ok := req.Body.(*pb.Request_Detach); !ok {
			return nil, refuse(pb.Status_STEPPING_DOWN, "this supernode is stepping down; attach elsewhere")
		}
	}
	switch b := req.Body.(type) {
	case *pb.Request_Attach:
		n.learn(req.Supernodes)
		if err := n.sess.attach(remote, n.prefixOf(remote), b.Attach.GetPrimary(), n.cfg.MaxLeaves, n.cfg.MaxLeavesPerPrefix, now); err != nil {
			return nil, err
		}
		return &pb.Response{Body: &pb.Response_Attach{Attach: &pb.AttachResponse{
			Load:                n.loadReport(),
			RecordTtlMs:         n.cfg.RecordTTL.Milliseconds(),
			HeartbeatIntervalMs: n.cfg.HeartbeatInterval.Milliseconds(),
		}}}, nil
	case *pb.Request_Detach:
		n.sess.detach(remote)
		return &pb.Response{}, nil
	case *pb.Request_Supernodes:
		// Served without attaching, so a leaf refused for capacity learns
		// where else to go (Gnutella's X-Try-Ultrapeers). Supernodes only.
		limit := int(b.Supernodes.GetLimit())
		if limit == 0 {
			limit = n.cfg.Limits.MaxSupernodeResults
		}
		res := &pb.SupernodesResponse{}
		for _, p := range n.Supernodes(limit) {
			res.Supernodes = append(res.Supernodes, n.cfg.Limits.PeerToPB(p))
		}
		return &pb.Response{Body: &pb.Response_Supernodes{Supernodes: res}}, nil
	}
	if !n.sess.attached(remote) {
		return nil, refuse(pb.Status_NOT_ATTACHED, "attach first")
	}
	switch b := req.Body.(type) {
	case *pb.Request_Heartbeat:
		n.learn(req.Supernodes)
		n.sess.touch(remote, b.Heartbeat.GetPrimary(), now)
		return &pb.Response{Body: &pb.Response_Heartbeat{Heartbeat: &pb.HeartbeatResponse{Load: n.loadReport()}}}, nil
	case *pb.Request_Announce:
		n.sess.touch(remote, true, now)
		out, err := n.Announce(n.ctx, remote, b.Announce.Envelope, b.Announce.Cids)
		if err != nil {
			return nil, err
		}
		return &pb.Response{Body: &pb.Response_Announce{Announce: out.toPB()}}, nil
	case *pb.Request_Lookup:
		ctx, cancel := context.WithTimeout(n.ctx, n.cfg.LookupTimeout)
		defer cancel()
		hs, err := n.LookupHolders(ctx, req.CID.Hash(), int(b.Lookup.Limit))
		if err != nil {
			return nil, err
		}
		return &pb.Response{Body: &pb.Response_Lookup{Lookup: &pb.LookupResponse{Holders: hs}}}, nil
	}
	return nil, fmt.Errorf("%w: unhandled request", protocol.ErrMalformed)
}

func (o *AnnounceOutcome) toPB() *pb.AnnounceResponse {
	r := &pb.AnnounceResponse{Accepted: uint32(o.Accepted), Replicas: uint32(o.MinReplicas()),
		Target: uint32(o.Target), Receipts: o.Receipts}
	for _, c := range o.CIDReplicas {
		r.CidReplicas = append(r.CidReplicas, uint32(c))
	}
	return r
}

// loadReport is our X-Ultrapeer-Needed: what leaves (and the election) need
// to know about this supernode's load.
func (n *Node) loadReport() *pb.Load {
	st := n.Stats()
	return &pb.Load{
		Leaves:      uint32(st.Leaves),
		MaxLeaves:   uint32(st.MaxLeaves),
		Rho:         st.Rho,
		ArrivalRate: st.Arrival,
		ServiceRate: st.Service,
		Supernodes:  uint32(st.Members),
	}
}
