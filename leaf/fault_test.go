package leaf

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/supertracker/supertracker/protocol"
	"github.com/supertracker/supertracker/protocol/pb"
)

func TestFaultOf(t *testing.T) {
	id := peer.ID("supernode")
	status := func(s pb.Status) error { return &protocol.StatusError{Status: s, Msg: "x"} }
	cases := []struct {
		name string
		err  error
		want fault
	}{
		{"its timeout", &SupernodeError{Peer: id, Err: fmt.Errorf("%w (5s)", ErrTimeout)}, faultSupernode},
		{"stream reset", &SupernodeError{Peer: id, Err: network.ErrReset}, faultSupernode},
		{"EOF", &SupernodeError{Peer: id, Err: io.ErrUnexpectedEOF}, faultSupernode},
		{"malformed answer", &SupernodeError{Peer: id, Err: protocol.ErrMalformed}, faultSupernode},
		{"session dropped", fmt.Errorf("%w: x", errDropped), faultSupernode},
		{"STEPPING_DOWN", status(pb.Status_STEPPING_DOWN), faultSupernode},
		{"OVER_CAPACITY", status(pb.Status_OVER_CAPACITY), faultSupernode},
		{"INTERNAL", status(pb.Status_INTERNAL), faultSupernode},
		{"NOT_ATTACHED", status(pb.Status_NOT_ATTACHED), faultSupernode},
		{"RATE_LIMITED", status(pb.Status_RATE_LIMITED), faultBusy},
		{"our BAD_REQUEST", status(pb.Status_BAD_REQUEST), faultOurs},
		{"REFUSED (signature, cap)", status(pb.Status_REFUSED), faultOurs},
		{"caller cancelled", context.Canceled, faultCaller},
		{"caller deadline", fmt.Errorf("lookup: %w", context.DeadlineExceeded), faultCaller},
		{"local error", errors.New("disk full"), faultOurs},
		{"local limit", fmt.Errorf("%w: 300 CIDs", protocol.ErrOverLimit), faultOurs},
		{"agent closed", ErrClosed, faultOurs},
		{"no supernode", &NoSupernodeError{}, faultOurs},
	}
	for _, c := range cases {
		if got := faultOf(c.err); got != c.want {
			t.Errorf("%s: faultOf(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

// The session layer decides whose a failure is: the caller's cancellation
// stays the caller's even while the supernode is frozen; the supernode's
// silence past the timeout is its own; a refusal keeps its status.
func TestSessionAttributesFailures(t *testing.T) {
	w := newWorld(t, 1, 1000)
	a, _ := w.startAlone(nil)
	s := a.primary
	c := testCID(t, "x")

	w.sns[0].setHold("lookup", true)
	ctx, cancel := context.WithCancel(t.Context())
	ch := goAsync(func() error { _, err := s.lookup(ctx, c, 1); return err })
	w.settle()
	cancel()
	if err := result(t, ch); !errors.Is(err, context.Canceled) || faultOf(err) != faultCaller {
		t.Fatalf("cancelled by the caller: %v (fault %s), want the caller's context.Canceled", err, faultOf(err))
	}

	ch = goAsync(func() error { _, err := s.lookup(t.Context(), c, 1); return err })
	w.advance(a.cfg.RequestTimeout-100*time.Millisecond, 100*time.Millisecond)
	select {
	case err := <-ch:
		t.Fatalf("lookup returned before its timeout: %v", err)
	default:
	}
	w.advance(200*time.Millisecond, 100*time.Millisecond)
	err := result(t, ch)
	var se *SupernodeError
	if !errors.As(err, &se) || !errors.Is(err, ErrTimeout) || se.Peer != w.sns[0].h.ID() {
		t.Fatalf("silent past the timeout: %v, want a SupernodeError wrapping ErrTimeout", err)
	}
	w.sns[0].setHold("lookup", false)

	w.sns[0].setStatus("lookup", pb.Status_BAD_REQUEST)
	if _, err := s.lookup(t.Context(), c, 1); !errors.Is(err, protocol.ErrBadRequest) || faultOf(err) != faultOurs {
		t.Fatalf("BAD_REQUEST: %v (fault %s)", err, faultOf(err))
	}
}
