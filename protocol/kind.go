package protocol

import "github.com/supertracker/supertracker/protocol/pb"

// RequestKind names a leaf request (a *Request, a *pb.Request or its body) for
// metering and metrics: "lookup", "announce", "heartbeat", "attach",
// "supernodes", "detach" or "other".
func RequestKind(req any) string { return requestKind(req) }

func requestKind(body any) string {
	switch b := body.(type) {
	case *Request:
		return requestKind(b.GetRequest())
	case *pb.Request:
		return requestKind(b.GetBody())
	case *pb.Request_Attach:
		return "attach"
	case *pb.Request_Heartbeat:
		return "heartbeat"
	case *pb.Request_Announce:
		return "announce"
	case *pb.Request_Lookup:
		return "lookup"
	case *pb.Request_Supernodes:
		return "supernodes"
	case *pb.Request_Detach:
		return "detach"
	}
	return "other"
}
