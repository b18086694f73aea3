package leaf

import (
	"context"
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
)

// Sentinel errors of a request to a supernode.
var (
	// ErrTimeout: the supernode did not answer within the request timeout,
	// counted from when the request was written.
	ErrTimeout = errors.New("leaf: supernode did not answer in time")
	// errDropped: the session was closed under the request (the agent
	// dropped that supernode, or is closing).
	errDropped = errors.New("leaf: session with the supernode closed")
)

// SupernodeError is a failure that is the supernode's, not the caller's nor
// ours: it did not answer in time, or its stream or connection broke.
type SupernodeError struct {
	Peer peer.ID
	Err  error
}

func (e *SupernodeError) Error() string {
	return fmt.Sprintf("supernode %s: %v", e.Peer, e.Err)
}

func (e *SupernodeError) Unwrap() error { return e.Err }

// fault says whose a failed request is, and so what the agent does next.
type fault int

const (
	// faultOurs: our own error (a local failure, a request the supernode
	// found bad, a refused signature or cap): return it, charge nobody, do
	// not retry elsewhere (another supernode would say the same).
	faultOurs fault = iota
	// faultCaller: the caller's context ended: return, charge nobody.
	faultCaller
	// faultBusy: the supernode declined this request for now (rate
	// limited) but works: try another supernode, charge nobody.
	faultBusy
	// faultSupernode: the supernode's failure (its timeout, a reset, EOF
	// or closed connection, a refusal that says "go elsewhere"): charge it
	// (fail over, drop it) and try another.
	faultSupernode
)

func (f fault) String() string {
	switch f {
	case faultOurs:
		return "ours"
	case faultCaller:
		return "caller"
	case faultBusy:
		return "busy"
	case faultSupernode:
		return "supernode"
	}
	return fmt.Sprintf("fault(%d)", int(f))
}

// faultOf classifies a request's error. Only the session layer produces
// SupernodeError, and only for failures it saw the supernode cause; a
// context error without it is the caller's. Anything unrecognised is ours:
// it is never charged to a supernode.
func faultOf(err error) fault {
	var se *SupernodeError
	switch {
	case err == nil:
		return faultOurs
	case errors.As(err, &se), errors.Is(err, errDropped), errors.Is(err, ErrUnverified):
		return faultSupernode
	case errors.Is(err, protocol.ErrSteppingDown), errors.Is(err, protocol.ErrOverCapacity),
		errors.Is(err, protocol.ErrInternal), errors.Is(err, protocol.ErrNotAttached):
		return faultSupernode
	case errors.Is(err, protocol.ErrRateLimited):
		return faultBusy
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return faultCaller
	}
	return faultOurs
}
