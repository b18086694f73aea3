package protocol

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/supertracker/supertracker/protocol/pb"
)

// ProbeProtocol carries the measurements of the self-election: upload
// bandwidth by a real transfer, reachability by a dial-back, and load.
const ProbeProtocol protocol.ID = "/supertracker/probe/1.0.0"

// Probe bounds.
const (
	// MaxProbeBytes bounds one bandwidth probe's transfer.
	MaxProbeBytes = 4 << 20
	// MaxProbeDurationMs bounds one bandwidth probe's duration.
	MaxProbeDurationMs = 10_000
)

// DecodeProbeRequest decodes and validates a probe request.
func (l Limits) DecodeProbeRequest(b []byte) (*pb.ProbeRequest, error) {
	return decodeChecked(l, "probe request", b, l.validateProbeRequest)
}

func (l Limits) validateProbeRequest(m *pb.ProbeRequest) error {
	switch body := m.Body.(type) {
	case *pb.ProbeRequest_Bandwidth:
		if body.Bandwidth.GetMaxBytes() == 0 || body.Bandwidth.GetMaxBytes() > MaxProbeBytes {
			return fmt.Errorf("%w: probe of %d bytes (want 1..%d)", ErrOverLimit, body.Bandwidth.GetMaxBytes(), MaxProbeBytes)
		}
		if body.Bandwidth.GetDurationMs() == 0 || body.Bandwidth.GetDurationMs() > MaxProbeDurationMs {
			return fmt.Errorf("%w: probe of %d ms (want 1..%d)", ErrOverLimit, body.Bandwidth.GetDurationMs(), MaxProbeDurationMs)
		}
	case *pb.ProbeRequest_DialBack:
		if _, err := l.AddrsFromBytes(body.DialBack.GetAddrs()); err != nil {
			return fmt.Errorf("dial-back: %w", err)
		}
	case *pb.ProbeRequest_Load:
	default:
		return fmt.Errorf("%w: probe request has no known body", ErrMalformed)
	}
	return nil
}

// ProbeResponse is a probe answer as DecodeProbeResponse parsed it: the
// message, within limits, and the peers it names as typed values.
type ProbeResponse struct {
	*pb.ProbeResponse
	// KnownSupernodes: the supernodes the responder knows (Supernodes).
	KnownSupernodes []peer.AddrInfo
	// Candidacies: the pending promotions it knows of (Candidates).
	Candidacies []Candidacy
}

// DecodeProbeResponse decodes a probe response: status, sizes and ranges
// within limits, its supernodes and candidacies parsed.
func (l Limits) DecodeProbeResponse(b []byte) (*ProbeResponse, error) {
	var m pb.ProbeResponse
	if err := l.unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("probe response: %w", err)
	}
	if err := l.checkStatus(m.Status, m.Error); err != nil {
		return nil, fmt.Errorf("probe response: %w", err)
	}
	if m.Bytes > MaxProbeBytes || m.ElapsedUs < 0 {
		return nil, fmt.Errorf("%w: probe result out of range", ErrMalformed)
	}
	if len(m.DialedAddr) > l.MaxAddrSize {
		return nil, fmt.Errorf("%w: dialed address of %d bytes", ErrOverLimit, len(m.DialedAddr))
	}
	if err := ValidateLoad(m.Load); err != nil {
		return nil, fmt.Errorf("probe response: %w", err)
	}
	if len(m.Supernodes) > l.MaxSupernodeResults {
		return nil, fmt.Errorf("%w: %d supernodes (max %d)", ErrOverLimit, len(m.Supernodes), l.MaxSupernodeResults)
	}
	r := &ProbeResponse{ProbeResponse: &m}
	for i, p := range m.Supernodes {
		ai, err := l.PeerFromPB(p)
		if err != nil {
			return nil, fmt.Errorf("probe response: supernode %d: %w", i, err)
		}
		r.KnownSupernodes = append(r.KnownSupernodes, ai)
	}
	var err error
	if r.Candidacies, err = l.parseCandidates(m.Candidates); err != nil {
		return nil, fmt.Errorf("probe response: %w", err)
	}
	return r, nil
}
