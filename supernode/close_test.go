package supernode

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/supertracker/supertracker/protocol"
)

func loopbackHost(t *testing.T) host.Host {
	t.Helper()
	h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func quietNode(t *testing.T, h host.Host) *Node {
	t.Helper()
	c := LocalConfig()
	c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c.PrefixBits4, c.PrefixBits6 = 0, 0
	n, err := New(h, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// A peer session whose hello is answered only after Close took the
// sessions belongs to nobody: client closes it at once, and Close (which
// waits for every session's read loop) returns. Before, the session was
// kept and Close waited for its read loop for as long as the peer kept the
// stream open (15 min in CI).
func TestCloseReturnsWhileASessionOpens(t *testing.T) {
	a := quietNode(t, loopbackHost(t))
	bh := loopbackHost(t)
	b := quietNode(t, bh)
	release := make(chan struct{})
	// b answers hellos only once released.
	bh.SetStreamHandler(protocol.PeerProtocol, func(s network.Stream) {
		<-release
		b.handlePeerStream(s)
	})
	a.host.Peerstore().AddAddrs(bh.ID(), bh.Addrs(), time.Hour)

	opened := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, err := a.client(ctx, bh.ID())
		opened <- err
	}()
	// The hello is on its way: a is dialling b.
	waitUntil(t, "a dials b", func() bool {
		a.peersMu.Lock()
		defer a.peersMu.Unlock()
		_, ok := a.dialing[bh.ID()]
		return ok
	})
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	waitUntil(t, "a's Close takes the sessions", a.isClosed)
	close(release)

	select {
	case err := <-opened:
		if err == nil {
			t.Fatal("client returned a session opened after Close")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("client did not return after the hello was answered")
	}
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return: it waits for a session nobody closes")
	}
	a.peersMu.Lock()
	left := len(a.clients)
	a.peersMu.Unlock()
	if left != 0 {
		t.Fatalf("%d sessions kept after Close", left)
	}
}

// waitUntil polls cond every 10 ms for up to 30 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		select {
		case <-time.After(10 * time.Millisecond): // poll interval
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}
