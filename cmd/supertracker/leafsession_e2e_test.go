package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/supertracker/supertracker/election/node"
)

// Process tests of the leaf session (issue 13) on 127.0.60.100–130.

// freeze SIGSTOPs a process's group and registers the SIGCONT, run before
// the process's own cleanup stops it (cleanups run last first).
func freeze(t *testing.T, o *opsProc) {
	t.Helper()
	if err := syscall.Kill(-o.p.PID(), syscall.SIGSTOP); err != nil {
		t.Fatalf("SIGSTOP %s: %v", o.name, err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-o.p.PID(), syscall.SIGCONT) })
}

func idOf(fullAddr string) string {
	return fullAddr[strings.LastIndex(fullAddr, "/p2p/")+len("/p2p/"):]
}

// primaryOf reads a leaf's primary supernode (peer ID) from its status.
func primaryOf(t *testing.T, leaf *opsProc) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	st, err := leaf.client().Status(ctx)
	if err != nil || len(st.Supernodes) == 0 {
		return "", 0
	}
	return idOf(st.Supernodes[0]), len(st.Supernodes)
}

// Acceptance 1: leaf B's primary is frozen (SIGSTOP) while B looks up a CID
// every 0.5 s: no lookup fails, each is answered within 3 s, and B has a
// new primary within two heartbeat intervals (the supernodes ask for 1 s).
func TestFrozenPrimaryLookupsNeverStall(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	const heartbeat = time.Second // supernode --local
	var sns []*opsProc
	var addrs []string
	for i := range 3 {
		extra := []string{"--local"}
		if i > 0 {
			extra = append(extra, "--bootstrap", sns[0].addr())
		}
		sn := newOpsProc(t, dir, fmt.Sprintf("sn%d", i), "supernode", opsIP(100+i), "0", extra...)
		sn.start(t, bin)
		sns = append(sns, sn)
		addrs = append(addrs, sn.addr())
	}
	a := newOpsProc(t, dir, "leafA", "leaf", opsIP(110), "0", "--supernode", strings.Join(addrs, ","))
	b := newOpsProc(t, dir, "leafB", "leaf", opsIP(111), "0", "--supernode", strings.Join(addrs, ","))
	a.start(t, bin)
	b.start(t, bin)
	obj := opsCID("frozen", 0)
	poll(t, 20*time.Second, "leaf A's announce", func() (bool, string) {
		_, err := a.client().Announce(t.Context(), []string{obj})
		return err == nil, fmt.Sprint(err)
	})
	poll(t, 20*time.Second, "leaf B attached to 3 supernodes", func() (bool, string) {
		p, n := primaryOf(t, b)
		if p != "" && n == 3 {
			return true, ""
		}
		// Why not, for a failure seen once in CI (primary "", 0 attached).
		return false, fmt.Sprintf("primary %q, %d attached; leaf B's log ends:\n%s", p, n, tail(b.log))
	})
	found := func() (time.Duration, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		res, err := b.client().Lookup(ctx, obj, 0)
		took := time.Since(start)
		if err != nil {
			return took, err
		}
		for _, h := range res.Holders {
			if h.PeerID == a.peerID() {
				return took, nil
			}
		}
		return took, fmt.Errorf("holders %v lack leaf A", res.Holders)
	}
	poll(t, 20*time.Second, "B finds A's object", func() (bool, string) {
		_, err := found()
		return err == nil, fmt.Sprint(err)
	})
	old, _ := primaryOf(t, b)
	var victim *opsProc
	for _, sn := range sns {
		if sn.peerID() == old {
			victim = sn
		}
	}
	if victim == nil {
		t.Fatalf("B's primary %s is none of the supernodes", old)
	}

	const lookups, freezeAt = 20, 4
	var (
		mu       sync.Mutex
		failures []string
		slowest  time.Duration
		frozenAt time.Time
		replaced time.Duration
	)
	watchDone := make(chan struct{})
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for i := range lookups {
		<-tick.C
		if i == freezeAt {
			freeze(t, victim)
			frozenAt = time.Now()
			go func() { // when does B see a new primary?
				defer close(watchDone)
				for time.Since(frozenAt) < 10*time.Second {
					if p, _ := primaryOf(t, b); p != "" && p != old {
						mu.Lock()
						replaced = time.Since(frozenAt)
						mu.Unlock()
						return
					}
					select {
					case <-time.After(50 * time.Millisecond): // poll interval
					case <-t.Context().Done():
						return
					}
				}
			}()
		}
		took, err := found()
		mu.Lock()
		slowest = max(slowest, took)
		if err != nil || took > 3*time.Second {
			failures = append(failures, fmt.Sprintf("lookup %d (%s after the freeze): %v in %s", i, time.Since(frozenAt).Round(time.Millisecond), err, took))
		}
		mu.Unlock()
	}
	<-watchDone
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d lookups every 0.5 s, primary frozen before lookup %d: %d failed, slowest %s; new primary %s after the SIGSTOP",
		lookups, freezeAt, len(failures), slowest.Round(time.Millisecond), replaced.Round(time.Millisecond))
	if len(failures) > 0 {
		t.Errorf("failed lookups:\n%s", strings.Join(failures, "\n"))
	}
	// Two heartbeat intervals, plus the status poll's granularity.
	if replaced == 0 || replaced > 2*heartbeat+200*time.Millisecond {
		t.Errorf("new primary after %s, want within two heartbeats (%s)\n%s", replaced, 2*heartbeat, tail(b.log))
	}
}

// Acceptance 3: one process per data dir, whatever the role; a busy
// --listen address is an error; announce with no reachable supernode fails
// within 5 s naming the addresses tried; exit statuses tell bad input,
// overlay failure, timeout and an unreachable API apart.
func TestDataDirListenAndNoSupernode(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	sn := newOpsProc(t, dir, "sn", "supernode", opsIP(120), "0", "--local")
	sn.start(t, bin)
	lf := newOpsProc(t, dir, "leaf", "leaf", opsIP(121), "0", "--supernode", sn.addr())
	lf.start(t, bin)

	second := func(cmd, ip, data string, extra ...string) (string, int) {
		args := append([]string{cmd, "--listen", fmt.Sprintf("/ip4/%s/tcp/0", ip), "--data", data,
			"--api", freeHostPort(t, ip), "--log-level", "warn"}, extra...)
		_, stderr, code := cli(t, bin, args...)
		return stderr, code
	}
	snData, leafData := filepath.Join(dir, "sn"), filepath.Join(dir, "leaf")
	for _, c := range []struct {
		cmd, data string
		extra     []string
	}{
		{"leaf", snData, []string{"--supernode", sn.addr()}},
		{"supernode", snData, nil},
		{"node", snData, []string{"--role", "leaf", "--supernode", sn.addr()}},
		{"leaf", leafData, []string{"--supernode", sn.addr()}},
		{"supernode", leafData, nil},
	} {
		stderr, code := second(c.cmd, opsIP(122), c.data, c.extra...)
		lock := filepath.Join(c.data, node.LockFile)
		if code != exitLocal || !strings.Contains(stderr, lock) {
			t.Errorf("second %s on a used --data %s: exit %d, want %d naming %s; stderr:\n%s", c.cmd, c.data, code, exitLocal, lock, stderr)
		}
	}

	// A busy --listen address: the supernode's own.
	busy := strings.TrimSuffix(sn.addr(), "/p2p/"+sn.peerID())
	for _, cmd := range []string{"supernode", "leaf"} {
		args := []string{cmd, "--listen", busy, "--data", filepath.Join(dir, "busy-"+cmd),
			"--api", freeHostPort(t, opsIP(123)), "--log-level", "warn"}
		if cmd == "leaf" {
			args = append(args, "--supernode", sn.addr())
		}
		_, stderr, code := cli(t, bin, args...)
		if code != exitLocal || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, busy) {
			t.Errorf("%s on the busy --listen %s: exit %d, want %d saying it is in use; stderr:\n%s", cmd, busy, code, exitLocal, stderr)
		}
	}

	// No reachable supernode: one refuses connections, one is frozen
	// (SIGSTOP: TCP connects, nothing answers).
	frozen := newOpsProc(t, dir, "frozen", "supernode", opsIP(124), "0", "--local")
	frozen.start(t, bin)
	freeze(t, frozen)
	refused := fmt.Sprintf("/ip4/%s/tcp/%s/p2p/%s", opsIP(125), portOf(t, freeHostPort(t, opsIP(125))), newPeerID(t))
	orphan := newOpsProc(t, dir, "orphan", "leaf", opsIP(126), "0", "--supernode", refused+","+frozen.addr())
	orphan.start(t, bin)
	start := time.Now()
	_, stderr, code := cli(t, bin, "announce", "--api", orphan.api, opsCID("orphan", 0))
	took := time.Since(start)
	t.Logf("announce with no reachable supernode: exit %d after %s: %s", code, took.Round(time.Millisecond), strings.TrimSpace(stderr))
	if code != exitOverlay || took > 5*time.Second {
		t.Errorf("announce: exit %d after %s, want %d within 5 s", code, took, exitOverlay)
	}
	for _, want := range []string{"no supernode attached", refused, frozen.addr()} {
		if !strings.Contains(stderr, want) {
			t.Errorf("announce's message lacks %q:\n%s", want, stderr)
		}
	}

	// Exit statuses of the client commands.
	if _, _, code := cli(t, bin, "lookup", "--api", lf.api, "not-a-cid"); code != exitUsage {
		t.Errorf("lookup of a bad CID: exit %d, want %d", code, exitUsage)
	}
	if _, stderr, code := cli(t, bin, "lookup", "--api", freeHostPort(t, opsIP(127)), opsCID("x", 0)); code != exitLocal {
		t.Errorf("lookup with no API listening: exit %d, want %d: %s", code, exitLocal, stderr)
	}
	if _, stderr, code := cli(t, bin, "lookup", "--api", lf.api, "--timeout", "1ns", opsCID("x", 0)); code != exitTimeout {
		t.Errorf("lookup past --timeout: exit %d, want %d: %s", code, exitTimeout, stderr)
	}
}

func portOf(t *testing.T, hostport string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

func newPeerID(t *testing.T) peer.ID {
	t.Helper()
	_, pub, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
