package netns_test

import (
	"context"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/supertracker/supertracker/testnet/netns"
)

// newLab skips without root and deletes the lab's namespaces at the end.
func newLab(t *testing.T) *netns.Lab {
	t.Helper()
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: real NAT in network namespaces: %v", err)
	}
	l, err := netns.NewLab()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// A connection from behind a home router arrives from the router's WAN
// address (masquerade); nothing from the Internet reaches the LAN host.
func TestHomeIsMasqueraded(t *testing.T) {
	l := newLab(t)
	in, err := l.NewInternet()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := in.AddHost("srv")
	if err != nil {
		t.Fatal(err)
	}
	pub := srv.IP
	home, err := l.NewHome(in, 1, netns.PortPreserving)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.NS.Listen("tcp", net.JoinHostPort(pub, "4100"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		got <- c.RemoteAddr().String()
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := home.Host.DialContext(ctx, "tcp", net.JoinHostPort(pub, "4100"))
	if err != nil {
		t.Fatalf("home host → public host: %v", err)
	}
	c.Close()
	if from := <-got; !strings.HasPrefix(from, home.WANIP+":") {
		t.Fatalf("connection arrived from %s, want the router's WAN address %s", from, home.WANIP)
	}

	hl, err := home.Host.Listen("tcp", net.JoinHostPort(home.LANIP, "4101"))
	if err != nil {
		t.Fatal(err)
	}
	defer hl.Close()
	for _, target := range []string{net.JoinHostPort(home.LANIP, "4101"), net.JoinHostPort(home.WANIP, "4101")} {
		dctx, dcancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		if c, err := srv.NS.DialContext(dctx, "tcp", target); err == nil {
			c.Close()
			t.Errorf("the Internet reached %s behind the NAT", target)
		}
		dcancel()
	}
}

// Close removes every namespace.
func TestLabCloseRemovesNamespaces(t *testing.T) {
	if err := netns.Available(); err != nil {
		t.Skipf("skipping: %v", err)
	}
	l, err := netns.NewLab()
	if err != nil {
		t.Fatal(err)
	}
	in, err := l.NewInternet()
	if err != nil {
		t.Fatal(err)
	}
	home, err := l.NewHome(in, 2, netns.PortRandom)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []netns.NS{in.NS, home.Router, home.Host} {
		if _, err := os.Stat("/run/netns/" + n.Name); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Close (%v)", n.Name, err)
		}
	}
}
