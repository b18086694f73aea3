package protocol

import (
	"crypto/sha256"
	"fmt"

	"github.com/supertracker/supertracker/protocol/pb"
)

// DecodePeerRequest decodes and bounds one supernode↔supernode request
// (PeerProtocol). Signed contents (certs, announcements) are verified by
// OpenCert and OpenAnnouncement.
func (l Limits) DecodePeerRequest(b []byte) (*pb.PeerRequest, error) {
	return decodeChecked(l, "peer request", b, l.validatePeerRequest)
}

// DecodePeerResponse decodes and bounds one PeerProtocol response.
func (l Limits) DecodePeerResponse(b []byte) (*pb.PeerResponse, error) {
	return decodeChecked(l, "peer response", b, l.validatePeerResponse)
}

func (l Limits) validatePeerResponse(m *pb.PeerResponse) error {
	if err := l.checkStatus(m.Status, m.Error); err != nil {
		return err
	}
	switch b := m.Body.(type) {
	case *pb.PeerResponse_Hello:
		return l.checkEnvelope("hello cert", b.Hello.GetCert())
	case *pb.PeerResponse_Gossip:
		return l.checkCerts(b.Gossip.GetCerts())
	case *pb.PeerResponse_Store:
		return l.checkEnvelope("receipt", b.Store.GetReceipt())
	case *pb.PeerResponse_Fetch:
		return l.validateHolders(b.Fetch.GetHolders())
	}
	return nil
}

func (l Limits) validatePeerRequest(m *pb.PeerRequest) error {
	switch b := m.Body.(type) {
	case *pb.PeerRequest_Hello:
		return l.checkEnvelope("hello cert", b.Hello.GetCert())
	case *pb.PeerRequest_Gossip:
		if n := len(b.Gossip.GetDigest()); n > l.MaxGossipDigest {
			return fmt.Errorf("%w: gossip digest of %d members (max %d)", ErrOverLimit, n, l.MaxGossipDigest)
		}
		for i, d := range b.Gossip.GetDigest() {
			if len(d.GetPeerId()) == 0 || len(d.GetPeerId()) > maxPeerIDSize {
				return fmt.Errorf("%w: gossip digest %d: peer id of %d bytes", ErrMalformed, i, len(d.GetPeerId()))
			}
		}
		return l.checkCerts(b.Gossip.GetCerts())
	case *pb.PeerRequest_Store:
		st := b.Store
		if err := l.checkEnvelope("store announcement", st.GetAnnouncement()); err != nil {
			return err
		}
		if err := CheckOrigin(st.GetOrigin()); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if n := len(st.GetEntries()); n == 0 || n > l.MaxCIDsPerAnnouncement {
			return fmt.Errorf("%w: store of %d CIDs (want 1..%d)", ErrOverLimit, n, l.MaxCIDsPerAnnouncement)
		}
		for i, e := range st.GetEntries() {
			if len(e.GetCid()) == 0 || len(e.GetCid()) > l.MaxCIDSize {
				return fmt.Errorf("%w: store entry %d: CID of %d bytes", ErrMalformed, i, len(e.GetCid()))
			}
			if len(e.GetProof()) > l.MaxProofLen() {
				return fmt.Errorf("%w: store entry %d: proof of %d hashes", ErrOverLimit, i, len(e.GetProof()))
			}
			for _, h := range e.GetProof() {
				if len(h) != sha256.Size {
					return fmt.Errorf("%w: store entry %d: proof hash of %d bytes", ErrMalformed, i, len(h))
				}
			}
		}
		return nil
	case *pb.PeerRequest_Fetch:
		if k := len(b.Fetch.GetKey()); k == 0 || k > l.MaxCIDSize {
			return fmt.Errorf("%w: fetch key of %d bytes", ErrMalformed, k)
		}
		if b.Fetch.GetLimit() > uint32(l.MaxLookupResults) {
			return fmt.Errorf("%w: fetch limit %d (max %d)", ErrOverLimit, b.Fetch.GetLimit(), l.MaxLookupResults)
		}
		return nil
	}
	return fmt.Errorf("%w: no known body", ErrMalformed)
}

// maxPeerIDSize bounds a binary peer ID (an identity multihash of an
// Ed25519 key is 38 bytes; RSA keys hash to 34).
const maxPeerIDSize = 128

func (l Limits) checkEnvelope(what string, b []byte) error {
	if len(b) == 0 {
		return fmt.Errorf("%w: %s missing", ErrMalformed, what)
	}
	if len(b) > l.MaxEnvelopeSize {
		return fmt.Errorf("%w: %s of %d bytes (max %d)", ErrMessageTooLarge, what, len(b), l.MaxEnvelopeSize)
	}
	return nil
}

func (l Limits) checkCerts(certs [][]byte) error {
	if len(certs) > l.MaxGossipCerts {
		return fmt.Errorf("%w: %d certs (max %d)", ErrOverLimit, len(certs), l.MaxGossipCerts)
	}
	for i, c := range certs {
		if err := l.checkEnvelope(fmt.Sprintf("cert %d", i), c); err != nil {
			return err
		}
	}
	return nil
}

// PeerRequestKind names a PeerProtocol request for metering: "hello",
// "gossip", "store", "fetch" or "other".
func PeerRequestKind(m *pb.PeerRequest) string {
	switch m.GetBody().(type) {
	case *pb.PeerRequest_Hello:
		return "hello"
	case *pb.PeerRequest_Gossip:
		return "gossip"
	case *pb.PeerRequest_Store:
		return "store"
	case *pb.PeerRequest_Fetch:
		return "fetch"
	}
	return "other"
}
