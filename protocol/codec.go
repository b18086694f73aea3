package protocol

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-varint"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol/pb"
)

// MsgReader reads varint length-delimited protobufs (libp2p's framing) from
// a stream, refusing any frame over the size limit before reading it.
type MsgReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewReader returns a MsgReader on r bounded by l.MaxMessageSize.
func (l Limits) NewReader(r io.Reader) *MsgReader {
	return &MsgReader{r: bufio.NewReaderSize(r, 4096), max: l.MaxMessageSize}
}

// ReadFrame reads one frame. Transport errors (io.EOF, resets) are returned
// as they are; a frame over the limit yields ErrMessageTooLarge.
func (mr *MsgReader) ReadFrame() ([]byte, error) {
	n, err := varint.ReadUvarint(mr.r)
	if err != nil {
		if errors.Is(err, varint.ErrOverflow) || errors.Is(err, varint.ErrNotMinimal) {
			return nil, fmt.Errorf("%w: frame length: %v", ErrMalformed, err)
		}
		return nil, err
	}
	if n > uint64(mr.max) {
		return nil, fmt.Errorf("%w: frame of %d bytes (max %d)", ErrMessageTooLarge, n, mr.max)
	}
	if cap(mr.buf) < int(n) {
		mr.buf = make([]byte, n)
	}
	buf := mr.buf[:n]
	if _, err := io.ReadFull(mr.r, buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// WriteMsg writes m as one varint length-delimited frame in a single Write.
func WriteMsg(w io.Writer, m proto.Message) error {
	body, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("protocol: marshal: %w", err)
	}
	frame := append(varint.ToUvarint(uint64(len(body))), body...)
	_, err = w.Write(frame)
	return err
}

func (l Limits) unmarshal(b []byte, m proto.Message) error {
	if len(b) > l.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes (max %d)", ErrMessageTooLarge, len(b), l.MaxMessageSize)
	}
	if err := proto.Unmarshal(b, m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// decodeChecked unmarshals b, within l, into a new message and checks it;
// every error names the message (what).
func decodeChecked[M any, PM interface {
	*M
	proto.Message
}](l Limits, what string, b []byte, check func(PM) error) (PM, error) {
	m := PM(new(M))
	if err := l.unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := check(m); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}

// checkStatus checks what every response carries: a known status and an
// error text within MaxErrorSize.
func (l Limits) checkStatus(s pb.Status, errText string) error {
	if _, ok := pb.Status_name[int32(s)]; !ok {
		return fmt.Errorf("%w: unknown status %d", ErrMalformed, s)
	}
	if len(errText) > l.MaxErrorSize {
		return fmt.Errorf("%w: error text of %d bytes", ErrOverLimit, len(errText))
	}
	return nil
}

// Request is one leaf request as DecodeRequest parsed it: the message,
// within limits, and the typed values its bytes encode, so a server never
// decodes them again. The announcement envelope is opened (signature,
// expiry, Merkle proofs) by OpenBatch.
type Request struct {
	*pb.Request
	// CID a lookup asks for (lookups only).
	CID cid.Cid
	// Supernodes an attach or heartbeat reports (at most MaxGossipPeers).
	Supernodes []peer.AddrInfo
}

// GetRequest returns the message (nil for a nil r).
func (r *Request) GetRequest() *pb.Request {
	if r == nil {
		return nil
	}
	return r.Request
}

// DecodeRequest decodes one leaf request: exactly one body, within limits,
// its CID and peers parsed.
func (l Limits) DecodeRequest(b []byte) (*Request, error) {
	var m pb.Request
	if err := l.unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	return l.parseRequest(&m)
}

// DecodeResponse decodes and validates one supernode response.
func (l Limits) DecodeResponse(b []byte) (*pb.Response, error) {
	return decodeChecked(l, "response", b, l.ValidateResponse)
}

func (l Limits) parseRequest(m *pb.Request) (*Request, error) {
	r := &Request{Request: m}
	var err error
	switch b := m.Body.(type) {
	case *pb.Request_Attach:
		r.Supernodes, err = l.parseGossipPeers("attach", b.Attach.GetSupernodes())
	case *pb.Request_Heartbeat:
		r.Supernodes, err = l.parseGossipPeers("heartbeat", b.Heartbeat.GetSupernodes())
	case *pb.Request_Detach:
	case *pb.Request_Announce:
		switch {
		case b.Announce == nil || len(b.Announce.Envelope) == 0:
			err = fmt.Errorf("%w: announce without envelope", ErrMalformed)
		case len(b.Announce.Envelope) > l.MaxEnvelopeSize:
			err = fmt.Errorf("%w: envelope is %d bytes (max %d)", ErrMessageTooLarge, len(b.Announce.Envelope), l.MaxEnvelopeSize)
		case len(b.Announce.Cids) == 0 || len(b.Announce.Cids) > l.MaxCIDsPerAnnouncement:
			err = fmt.Errorf("%w: announce of %d CIDs (want 1..%d)", ErrOverLimit, len(b.Announce.Cids), l.MaxCIDsPerAnnouncement)
		}
	case *pb.Request_Lookup:
		if b.Lookup == nil {
			return nil, fmt.Errorf("%w: empty lookup", ErrMalformed)
		}
		if r.CID, err = l.CIDFromBytes(b.Lookup.Cid); err != nil {
			return nil, fmt.Errorf("lookup: %w", err)
		}
		if b.Lookup.Limit > uint32(l.MaxLookupResults) {
			err = fmt.Errorf("%w: lookup limit %d (max %d)", ErrOverLimit, b.Lookup.Limit, l.MaxLookupResults)
		}
	case *pb.Request_Supernodes:
		if b.Supernodes != nil && b.Supernodes.Limit > uint32(l.MaxSupernodeResults) {
			err = fmt.Errorf("%w: supernodes limit %d (max %d)", ErrOverLimit, b.Supernodes.Limit, l.MaxSupernodeResults)
		}
	default:
		err = fmt.Errorf("%w: request has no known body", ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ValidateResponse checks status, error text and result counts; every peer
// in a result must decode.
func (l Limits) ValidateResponse(m *pb.Response) error {
	if err := l.checkStatus(m.Status, m.Error); err != nil {
		return err
	}
	switch b := m.Body.(type) {
	case *pb.Response_Attach:
		if err := ValidateLoad(b.Attach.GetLoad()); err != nil {
			return fmt.Errorf("attach: %w", err)
		}
	case *pb.Response_Heartbeat:
		if err := ValidateLoad(b.Heartbeat.GetLoad()); err != nil {
			return fmt.Errorf("heartbeat: %w", err)
		}
	case *pb.Response_Lookup:
		if err := l.validateHolders(b.Lookup.GetHolders()); err != nil {
			return fmt.Errorf("lookup: %w", err)
		}
	case *pb.Response_Announce:
		a := b.Announce
		if a == nil {
			break
		}
		if len(a.CidReplicas) > l.MaxCIDsPerAnnouncement {
			return fmt.Errorf("%w: %d replica counts (max %d)", ErrOverLimit, len(a.CidReplicas), l.MaxCIDsPerAnnouncement)
		}
		if len(a.Receipts) > l.MaxReceipts {
			return fmt.Errorf("%w: %d receipts (max %d)", ErrOverLimit, len(a.Receipts), l.MaxReceipts)
		}
		for i, r := range a.Receipts {
			if len(r) > l.MaxEnvelopeSize {
				return fmt.Errorf("%w: receipt %d is %d bytes", ErrMessageTooLarge, i, len(r))
			}
		}
	case *pb.Response_Supernodes:
		if b.Supernodes == nil {
			break
		}
		if len(b.Supernodes.Supernodes) > l.MaxSupernodeResults {
			return fmt.Errorf("%w: %d supernodes (max %d)", ErrOverLimit, len(b.Supernodes.Supernodes), l.MaxSupernodeResults)
		}
		for i, p := range b.Supernodes.Supernodes {
			if _, err := l.PeerFromPB(p); err != nil {
				return fmt.Errorf("supernode %d: %w", i, err)
			}
		}
		if len(b.Supernodes.Peers) > l.MaxSupernodeResults {
			return fmt.Errorf("%w: %d peers (max %d)", ErrOverLimit, len(b.Supernodes.Peers), l.MaxSupernodeResults)
		}
		for i, p := range b.Supernodes.Peers {
			if _, err := l.PeerFromPB(p); err != nil {
				return fmt.Errorf("peer %d: %w", i, err)
			}
		}
	}
	return nil
}

// validateHolders bounds a list of lookup answer entries (their signatures
// are checked by OpenHolder).
func (l Limits) validateHolders(hs []*pb.Holder) error {
	if len(hs) > l.MaxLookupResults {
		return fmt.Errorf("%w: %d holders (max %d)", ErrOverLimit, len(hs), l.MaxLookupResults)
	}
	for i, h := range hs {
		switch {
		case len(h.GetAnnouncement()) == 0 || len(h.GetAnnouncement()) > l.MaxEnvelopeSize:
			return fmt.Errorf("%w: holder %d announcement of %d bytes", ErrMalformed, i, len(h.GetAnnouncement()))
		case len(h.GetCid()) == 0 || len(h.GetCid()) > l.MaxCIDSize:
			return fmt.Errorf("%w: holder %d CID of %d bytes", ErrMalformed, i, len(h.GetCid()))
		case len(h.GetProof()) > l.MaxProofLen():
			return fmt.Errorf("%w: holder %d proof of %d hashes", ErrOverLimit, i, len(h.GetProof()))
		}
	}
	return nil
}

// ResponseError returns nil for an OK response, a *StatusError otherwise.
func ResponseError(status pb.Status, msg string) error {
	if status == pb.Status_OK {
		return nil
	}
	return &StatusError{Status: status, Msg: msg}
}

// Raw returns the buffered reader under mr, for a protocol that follows a
// framed message with raw bytes (the bandwidth probe).
func (mr *MsgReader) Raw() io.Reader { return mr.r }

// MaxGossipPeers bounds the supernodes a leaf reports in one attach or
// heartbeat.
const MaxGossipPeers = 8

func (l Limits) parseGossipPeers(what string, ps []*pb.Peer) ([]peer.AddrInfo, error) {
	if len(ps) > MaxGossipPeers {
		return nil, fmt.Errorf("%w: %s reports %d supernodes (max %d)", ErrOverLimit, what, len(ps), MaxGossipPeers)
	}
	var out []peer.AddrInfo
	for i, p := range ps {
		ai, err := l.PeerFromPB(p)
		if err != nil {
			return nil, fmt.Errorf("%s supernode %d: %w", what, i, err)
		}
		out = append(out, ai)
	}
	return out, nil
}
