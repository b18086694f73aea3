package leaf

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// The wire payloads of the leaf's data requests, one function that builds
// each request and one that reads its answer; everything else (streams,
// timeouts, hedging, failover) is payload-agnostic.

// announceRequest carries a signed announcement (or withdrawal) envelope
// and the CIDs its root covers.
func announceRequest(envelope []byte, cids [][]byte) *pb.Request {
	return &pb.Request{Body: &pb.Request_Announce{Announce: &pb.AnnounceRequest{Envelope: envelope, Cids: cids}}}
}

// announceResult reads a supernode's answer to an announce (its receipts
// are checked by countReplicas).
func announceResult(resp *pb.Response) (*pb.AnnounceResponse, error) {
	r := resp.GetAnnounce()
	if r == nil {
		return nil, fmt.Errorf("%w: announce answered without an announce body", protocol.ErrMalformed)
	}
	return r, nil
}

// lookupRequest asks for up to limit holders of c.
func lookupRequest(c cid.Cid, limit int) *pb.Request {
	return &pb.Request{Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: c.Bytes(), Limit: uint32(limit)}}}
}

// lookupResult reads a supernode's answer to a lookup (the holders are
// checked by verifyHolders).
func lookupResult(resp *pb.Response) ([]*pb.Holder, error) {
	return resp.GetLookup().GetHolders(), nil
}

// ask sends req to this supernode and reads its answer with result;
// an answer result cannot read is the supernode's failure.
func ask[T any](ctx context.Context, s *session, req *pb.Request, result func(*pb.Response) (T, error)) (T, error) {
	var zero T
	resp, err := s.call(ctx, req, s.timeout)
	if err != nil {
		return zero, err
	}
	r, err := result(resp)
	if err != nil {
		return zero, &SupernodeError{Peer: s.info.ID, Err: err}
	}
	return r, nil
}

// announce sends a signed envelope to this supernode.
func (s *session) announce(ctx context.Context, envelope []byte, cids [][]byte) (*pb.AnnounceResponse, error) {
	return ask(ctx, s, announceRequest(envelope, cids), announceResult)
}

// lookup asks this supernode for holders of c.
func (s *session) lookup(ctx context.Context, c cid.Cid, limit int) ([]*pb.Holder, error) {
	return ask(ctx, s, lookupRequest(c, limit), lookupResult)
}
