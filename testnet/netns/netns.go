// Package netns builds small networks of Linux network namespaces for
// tests: an "Internet" segment, home routers that masquerade (real NAT,
// nftables) and hosts behind them, and runs processes and dials sockets
// inside them. It needs root, ip (iproute2) and nft (nftables).
//
// Every machine (public host, home router, home host) is its own
// namespace, so the kernel picks source addresses as on separate machines.
//
// Addresses: the Internet segment uses public-looking IPv4 addresses
// (1.2.0.0/24, as go-libp2p's own hole-punching tests do), because libp2p
// only hole-punches and announces public addresses; home LANs use 10.N.0.0/24.
// Both exist only inside namespaces a Lab created, which have no route to
// the host's own network, so nothing leaves the machine.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnavailable: namespaces cannot be made here (not root, or a tool is
// missing).
var ErrUnavailable = errors.New("netns: network namespaces unavailable")

// Available reports why namespaces cannot be made here, or nil.
func Available() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: needs root (ip netns, nftables)", ErrUnavailable)
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%w: %s not found (Debian packages iproute2 and nftables)", ErrUnavailable, tool)
		}
	}
	return nil
}

// namePrefix starts every namespace a Lab makes; the creator's PID follows,
// so a later Lab can remove what a killed test process left behind.
const namePrefix = "stns"

// NS is one network namespace.
type NS struct{ Name string }

// Command returns a command that runs name with args inside the namespace.
func (n NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Run runs a command inside the namespace and returns its combined output.
func (n NS) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("netns %s: %s %s: %w: %s", n.Name, name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

// ip runs `ip -n NS args…`.
func (n NS) ip(args ...string) error {
	out, err := exec.Command("ip", append([]string{"-n", n.Name}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip -n %s %s: %w: %s", n.Name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// Do runs f on an OS thread switched into the namespace: sockets f creates
// live there.
func (n NS) Do(f func() error) error {
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		return fmt.Errorf("netns: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: %w", err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: entering %s: %w", n.Name, err)
	}
	ferr := f()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: Go ends it with this goroutine rather
		// than reuse a thread in the wrong namespace.
		return fmt.Errorf("netns: leaving %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// DialContext dials from inside the namespace.
func (n NS) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var c net.Conn
	var derr error
	if err := n.Do(func() error {
		c, derr = (&net.Dialer{}).DialContext(ctx, network, addr)
		return nil
	}); err != nil {
		return nil, err
	}
	return c, derr
}

// Listen listens inside the namespace.
func (n NS) Listen(network, addr string) (net.Listener, error) {
	var ln net.Listener
	var lerr error
	if err := n.Do(func() error {
		ln, lerr = net.Listen(network, addr)
		return nil
	}); err != nil {
		return nil, err
	}
	return ln, lerr
}

// HTTPClient is an HTTP client whose connections start inside the
// namespace.
func (n NS) HTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: n.DialContext, DisableKeepAlives: true}}
}

// Lab owns the namespaces it made and deletes them on Close.
type Lab struct {
	id string

	mu      sync.Mutex
	made    []NS
	nextPub int // last host number used on the Internet segment
	closed  bool
}

var labSeq atomic.Int32

// NewLab starts a lab, first removing namespaces left by earlier test
// processes that died.
func NewLab() (*Lab, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	removeStale()
	return &Lab{id: fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), labSeq.Add(1))}, nil
}

// removeStale deletes namespaces named by a process that no longer runs.
func removeStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
			_ = exec.Command("ip", "netns", "del", e.Name()).Run()
		}
	}
}

// NewNS makes a namespace with loopback up.
func (l *Lab) NewNS(role string) (NS, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return NS{}, errors.New("netns: lab closed")
	}
	n := NS{Name: l.id + "-" + role}
	l.mu.Unlock()
	if out, err := exec.Command("ip", "netns", "add", n.Name).CombinedOutput(); err != nil {
		return NS{}, fmt.Errorf("ip netns add %s: %w: %s", n.Name, err, bytes.TrimSpace(out))
	}
	l.mu.Lock()
	l.made = append(l.made, n)
	l.mu.Unlock()
	return n, n.ip("link", "set", "lo", "up")
}

// Close deletes every namespace the lab made (with their interfaces).
// Processes still inside keep theirs alive: stop them first.
func (l *Lab) Close() error {
	l.mu.Lock()
	made := l.made
	l.made, l.closed = nil, true
	l.mu.Unlock()
	var errs []error
	for i := len(made) - 1; i >= 0; i-- {
		if out, err := exec.Command("ip", "netns", "del", made[i].Name).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("ip netns del %s: %w: %s", made[i].Name, err, bytes.TrimSpace(out)))
		}
	}
	return errors.Join(errs...)
}

func bg() context.Context { return context.Background() }
