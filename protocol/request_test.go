package protocol_test

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

// DecodeRequest hands the server typed values: the CID a lookup asks for
// and the supernodes a heartbeat reports, parsed once.
func TestDecodeRequestReturnsTypedValues(t *testing.T) {
	c := mkCID(t, "wanted")
	b, _ := proto.Marshal(&pb.Request{Id: 4, Body: &pb.Request_Lookup{Lookup: &pb.LookupRequest{Cid: c.Bytes(), Limit: 3}}})
	req, err := lim.DecodeRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !req.CID.Equals(c) || req.Id != 4 || req.GetLookup().GetLimit() != 3 || protocol.RequestKind(req) != "lookup" {
		t.Fatalf("lookup decoded to CID %v, id %d, kind %s", req.CID, req.Id, protocol.RequestKind(req))
	}

	_, id1 := key(t)
	_, id2 := key(t)
	addr := ma.StringCast("/ip4/127.0.0.1/tcp/4001")
	sns := []peer.AddrInfo{{ID: id1, Addrs: []ma.Multiaddr{addr}}, {ID: id2}}
	hb := &pb.HeartbeatRequest{}
	for _, p := range sns {
		hb.Supernodes = append(hb.Supernodes, lim.PeerToPB(p))
	}
	b, _ = proto.Marshal(&pb.Request{Body: &pb.Request_Heartbeat{Heartbeat: hb}})
	if req, err = lim.DecodeRequest(b); err != nil {
		t.Fatal(err)
	}
	if len(req.Supernodes) != 2 || req.Supernodes[0].ID != id1 || len(req.Supernodes[0].Addrs) != 1 ||
		!req.Supernodes[0].Addrs[0].Equal(addr) || req.Supernodes[1].ID != id2 || protocol.RequestKind(req) != "heartbeat" {
		t.Fatalf("heartbeat decoded to supernodes %v, kind %s", req.Supernodes, protocol.RequestKind(req))
	}
}
