package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotSupported is returned by a Backend for an endpoint its role does
// not serve (a supernode announces nothing of its own).
var ErrNotSupported = errors.New("not supported by this node's role")

// ErrBadInput marks errors caused by the request (answered with 400).
var ErrBadInput = errors.New("bad input")

// Backend is what the API serves: a leaf agent, a supernode, or a node that
// switches between the two. The handler only parses and writes bytes.
type Backend interface {
	Status(ctx context.Context) (*Status, error)
	Announce(ctx context.Context, cids []cid.Cid) (*AnnounceResponse, error)
	Withdraw(ctx context.Context, cids []cid.Cid) (*AnnounceResponse, error)
	Objects(ctx context.Context) ([]cid.Cid, error)
	Lookup(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error)
}

// Option configures NewHandler.
type Option func(*handlerOptions)

type handlerOptions struct {
	registerer prometheus.Registerer
}

// WithRegisterer registers the delegated routing server's HTTP metrics
// (delegated_routing_server_*) with reg. Without it they are kept in a
// registry of their own that nobody reads.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *handlerOptions) { o.registerer = reg }
}

// changeHandler serves a change of the announced set (announce or
// withdraw): the CIDs in the body, handed to change.
func changeHandler(change func(context.Context, []cid.Cid) (*AnnounceResponse, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cids, err := readCIDs(w, r)
		if err != nil {
			reply(w, nil, err)
			return
		}
		res, err := change(r.Context(), cids)
		reply(w, res, err)
	}
}

// NewHandler serves the API endpoints on top of b, and the IPFS Delegated
// Routing V1 API's read-only GETs under /routing/v1/. Extra handlers
// (metrics, a status page) can be mounted on the returned mux. Wrap it in
// Guard before serving it.
func NewHandler(b Backend, opts ...Option) *http.ServeMux {
	var o handlerOptions
	for _, opt := range opts {
		opt(&o)
	}
	mux := http.NewServeMux()
	routing := routingHandler(b, o.registerer)
	mux.Handle("GET "+PathRoutingProviders+"{cid}", routing)
	mux.Handle("GET "+PathRoutingPeers+"{peer}", routing)
	mux.HandleFunc(PathRoutingPrefix, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		http.Error(w, "not served by supertracker: only GET /routing/v1/providers/{cid} and /routing/v1/peers/{peer-id}",
			http.StatusNotImplemented)
	})
	mux.HandleFunc("GET "+PathStatus, func(w http.ResponseWriter, r *http.Request) {
		s, err := b.Status(r.Context())
		reply(w, s, err)
	})
	mux.HandleFunc("POST "+PathAnnounce, changeHandler(b.Announce))
	mux.HandleFunc("POST "+PathWithdraw, changeHandler(b.Withdraw))
	mux.HandleFunc("GET "+PathObjects, func(w http.ResponseWriter, r *http.Request) {
		cids, err := b.Objects(r.Context())
		res := &ObjectsResponse{CIDs: []string{}}
		for _, c := range cids {
			res.CIDs = append(res.CIDs, c.String())
		}
		reply(w, res, err)
	})
	mux.HandleFunc("GET "+PathLookup, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		c, err := cid.Decode(q.Get("cid"))
		if err != nil {
			reply(w, nil, fmt.Errorf("%w: cid %q: %v", ErrBadInput, q.Get("cid"), err))
			return
		}
		limit := 0
		if s := q.Get("limit"); s != "" {
			if limit, err = strconv.Atoi(s); err != nil || limit < 0 {
				reply(w, nil, fmt.Errorf("%w: limit %q", ErrBadInput, s))
				return
			}
		}
		holders, err := b.Lookup(r.Context(), c, limit)
		res := &LookupResponse{CID: c.String(), Holders: []Holder{}}
		for _, h := range holders {
			res.Holders = append(res.Holders, HolderFrom(h))
		}
		reply(w, res, err)
	})
	return mux
}

// HolderFrom renders a peer with full /p2p/ multiaddrs.
func HolderFrom(ai peer.AddrInfo) Holder {
	h := Holder{PeerID: ai.ID.String(), Addrs: FullAddrs(ai)}
	return h
}

// FullAddrs renders every address of ai as a multiaddr ending in /p2p/ID.
func FullAddrs(ai peer.AddrInfo) []string {
	out := []string{}
	addrs, err := peer.AddrInfoToP2pAddrs(&ai)
	if err != nil {
		return out
	}
	for _, a := range addrs {
		out = append(out, a.String())
	}
	return out
}

func readCIDs(w http.ResponseWriter, r *http.Request) ([]cid.Cid, error) {
	var req AnnounceRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodySize))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrBadInput, err)
	}
	if len(req.CIDs) == 0 {
		return nil, fmt.Errorf("%w: no cids", ErrBadInput)
	}
	out := make([]cid.Cid, 0, len(req.CIDs))
	for _, s := range req.CIDs {
		c, err := cid.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("%w: cid %q: %v", ErrBadInput, s, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusBadGateway
		switch {
		case errors.Is(err, ErrBadInput):
			code = http.StatusBadRequest
		case errors.Is(err, ErrNotSupported):
			code = http.StatusNotImplemented
		case errors.Is(err, context.DeadlineExceeded):
			code = http.StatusGatewayTimeout
		}
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(Error{Error: err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
