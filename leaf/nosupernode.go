package leaf

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// tryOutcome is why a supernode is not attached: the last dial, attach or
// heartbeat that failed.
type tryOutcome struct {
	addr string
	err  string
	at   time.Time
}

// maxTriedListed bounds the addresses a NoSupernodeError names.
const maxTriedListed = 8

// NoSupernodeError says that no supernode is attached and lists the
// supernodes tried, each with its last failure. It matches ErrNoSupernode
// with errors.Is, and unwraps to the caller's context error if that ended
// the wait.
type NoSupernodeError struct {
	Tried []string // "ADDR/p2p/ID (why)"
	Cause error    // nil, or the caller's context error
}

func (e *NoSupernodeError) Error() string {
	tried := "none: no supernode known"
	if len(e.Tried) > 0 {
		tried = strings.Join(e.Tried, ", ")
	}
	msg := fmt.Sprintf("%s (tried: %s)", ErrNoSupernode.Error(), tried)
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

func (e *NoSupernodeError) Is(target error) bool { return target == ErrNoSupernode }

func (e *NoSupernodeError) Unwrap() error { return e.Cause }

func fullAddr(info peer.AddrInfo) string {
	if len(info.Addrs) == 0 {
		return "/p2p/" + info.ID.String()
	}
	return info.Addrs[0].String() + "/p2p/" + info.ID.String()
}

// shortErr is the last line of an error, at most 160 bytes: libp2p dial
// errors list every address on lines of their own.
func shortErr(err error) string {
	s := strings.TrimSpace(err.Error())
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = strings.TrimSpace(strings.TrimLeft(s[i+1:], " *"))
	}
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

func (a *Agent) noteTryLocked(info peer.AddrInfo, err error) {
	var se *SupernodeError
	if errors.As(err, &se) {
		err = se.Err // the address already names the supernode
	}
	a.tries[info.ID] = tryOutcome{addr: fullAddr(info), err: shortErr(err), at: a.clock.Now()}
}

// noSupernode builds the error for a caller that found no primary.
func (a *Agent) noSupernode(cause error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var tried []string
	for id, t := range a.tries {
		if a.known[id].ID == "" && a.seen[id].ID == "" {
			continue
		}
		tried = append(tried, fmt.Sprintf("%s (%s)", t.addr, t.err))
	}
	for id, info := range a.known {
		if _, ok := a.tries[id]; !ok {
			tried = append(tried, fmt.Sprintf("%s (not answered yet)", fullAddr(info)))
		}
	}
	slices.Sort(tried)
	if len(tried) > maxTriedListed {
		tried = append(tried[:maxTriedListed], fmt.Sprintf("and %d more", len(tried)-maxTriedListed))
	}
	return &NoSupernodeError{Tried: tried, Cause: cause}
}

// waitPrimary returns where requests go now: the primary, or the local
// supernode. With neither it asks the maintenance loop for an attach round
// at once and waits for its outcome, at most AttachWait: when a round ends
// without a primary it fails with a NoSupernodeError naming the supernodes
// tried.
func (a *Agent) waitPrimary(ctx context.Context) (route, error) {
	a.mu.Lock()
	start := a.rounds
	a.urgent = true
	a.mu.Unlock()
	a.poke()
	t := a.clock.Timer(a.cfg.AttachWait)
	defer t.Stop()
	for {
		a.mu.Lock()
		p, local, ch, closed, failed := a.primary, a.local, a.changed, a.closed, a.rounds > start
		a.mu.Unlock()
		switch {
		case closed:
			return nil, ErrClosed
		case local != nil:
			return localRoute{local}, nil
		case p != nil:
			return p, nil
		case failed:
			return nil, a.noSupernode(nil)
		}
		select {
		case <-ch:
		case <-t.C:
			return nil, a.noSupernode(nil)
		case <-ctx.Done():
			return nil, a.noSupernode(ctx.Err())
		case <-a.ctx.Done():
			return nil, ErrClosed
		}
	}
}
